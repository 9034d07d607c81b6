;; run: wasmo exec --invoke add {artifact} 1
;; The wrong number of arguments is an error, not a default value.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
