;; run: wasmo exec --invoke stop {artifact}
;; Issue 14: an invoked function's proc_exit is the exit status, as under
;; `wasmtime run --invoke`; no results are printed.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "stop") (result i32)
    (call $proc_exit (i32.const 7))
    (i32.const 1)))
