;; A program whose entry point traps: `wasmo run examples/hello_trap.wat`
;; prints `error: wasm trap: integer divide by zero` with a backtrace and
;; exits with status 134.
(module
  (func $divide (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func $main (export "_start")
    (drop (call $divide (i32.const 1) (i32.const 0)))))
