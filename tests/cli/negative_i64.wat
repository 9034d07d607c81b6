;; run: wasmo exec --invoke triple {artifact} -7
;; Negative integers are arguments, not options.
(module
  (func (export "triple") (param i64) (result i64)
    (i64.mul (local.get 0) (i64.const 3))))
