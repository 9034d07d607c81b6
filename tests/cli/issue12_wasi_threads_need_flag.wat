;; run: wasmo exec {artifact}
;; Issue 12: without `-S threads` (wasmtime's spelling) nothing provides
;; `wasi.thread-spawn`, and the error says which flag does.
(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param i32 i32))
  (func (export "_start") (drop (call $spawn (i32.const 0)))))
