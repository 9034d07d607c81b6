;; run: wasmo run --no-cache --invoke add {wat} 2
;; Issue 14: a WASI reactor: `--invoke` gets WASI and runs `_initialize`
;; first (which prints and sets the global the invoked function reads).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "initialised\n")
  (global $g (mut i32) (i32.const 0))
  (func (export "_initialize")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.set $g (i32.const 40)))
  (func (export "add") (param i32) (result i32)
    (i32.add (global.get $g) (local.get 0))))
