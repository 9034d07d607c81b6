;; run: wasmo exec -S threads {artifact}
;; Issue 12: a trap in a spawned thread ends the whole process, as
;; `wasmtime run` does, with the trap's message, backtrace and status,
;; while the main thread is still waiting (for at most 60 s: were the trap
;; lost, the program would end with status 0 and this test fail).
(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func $boom (export "wasi_thread_start") (param i32 i32) unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 60000000000)))))
