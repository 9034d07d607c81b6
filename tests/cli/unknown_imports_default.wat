;; run: wasmo exec --wasm unknown-imports-default --invoke sum {artifact}
;; Issue 14: with -W unknown-imports-default an unknown imported function
;; returns zeros of its result types.
(module
  (import "env" "i" (func $i (param i32) (result i64 i32)))
  (import "env" "f" (func $f (result f64)))
  (func (export "sum") (result i64 f64)
    (call $i (i32.const 5))
    (i64.extend_i32_u)
    (i64.add)
    (i64.const 7)
    (i64.add)
    (call $f)))
