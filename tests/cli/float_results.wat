;; run: wasmo exec --invoke add {artifact} 0.1 -inf
;; Floats print in shortest round-trip form; `-inf` parses as a float.
(module
  (func (export "add") (param f64 f32) (result f64)
    (f64.add (f64.add (local.get 0) (f64.const 0.2))
             (f64.promote_f32 (f32.max (local.get 1) (f32.const 0))))))
