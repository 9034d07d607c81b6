;; run: wasmo run {wat}
;; Issue 14: every failed directive is reported with its line, the
;; script goes on after a failure, and the exit status is 1.
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "nan") (result f64) (f64.reinterpret_i64 (i64.const 0x7ff0000000000001))))
(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 6))
(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))
(assert_return (invoke "nan") (f64.const nan:canonical))
(assert_trap (invoke "add" (i32.const 0) (i32.const 0)) "integer divide by zero")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")
(assert_return (invoke "missing"))
(module (func (export "bad") (result i32) (i64.const 0)))
(assert_return (invoke "bad") (i32.const 0))
