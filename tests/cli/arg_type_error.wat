;; run: wasmo exec --invoke add {artifact} 1 x2
;; A bad argument names the parameter and its expected type.
(module
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))
