;; run: wasmo exec --invoke id {artifact} nan
;; `nan` is a float argument; NaN prints as Rust prints it.
(module
  (func (export "id") (param f32) (result f32) (local.get 0)))
