;; run: wasmo exec --invoke nope {artifact}
;; Invoking a missing export lists the functions there are.
(module
  (func (export "one") (result i32) (i32.const 1))
  (func (export "two") (result i32) (i32.const 2)))
