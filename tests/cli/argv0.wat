;; run: wasmo run --no-cache --argv0 myname --env A=1 --env WASMO_TEST_UNSET {wat} x --y
;; Issue 14: --argv0 sets the program's argv[0]; the program prints its
;; arguments and then its environment (WASMO_TEST_UNSET is unset on the host running the
;; tests, so only A is visible). tests/tests/cli_options.rs runs it with -S
;; inherit-env.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;; 0..16: scratch; 0x1000..0x8000: pointer array; 0x8000..: strings.
  (memory (export "memory") 8)
  (data (i32.const 0x40) "--\00")
  (func $puts (param $p i32)
    (local $n i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $l)))
    (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 10))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.add (local.get $n) (i32.const 1)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $put_all (param $count i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (call $puts (i32.load (i32.add (i32.const 0x1000) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
  (func (export "_start")
    (drop (call $args_sizes_get (i32.const 12) (i32.const 8)))
    (drop (call $args_get (i32.const 0x1000) (i32.const 0x8000)))
    (call $put_all (i32.load (i32.const 12)))
    (call $puts (i32.const 0x40))
    (drop (call $environ_sizes_get (i32.const 12) (i32.const 8)))
    (drop (call $environ_get (i32.const 0x1000) (i32.const 0x8000)))
    (call $put_all (i32.load (i32.const 12)))))
