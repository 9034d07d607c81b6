;; run: wasmo run --bounds-checks explicit --invoke load {wat} 65534
;; The same load with explicit bounds checks, compiled through `wasmo run`.
(module
  (memory 1)
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0))))
