;; run: wasmo exec -S threads {artifact}
;; Issue 12: `proc_exit(7)` in a spawned thread ends the whole process with
;; status 7 while the main thread is still waiting (for at most 60 s).
(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param i32 i32) (call $exit (i32.const 7)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 60000000000)))))
