;; run: wasmo exec --invoke load {artifact} 65534
;; An out-of-bounds load under guard pages: the fault becomes the trap.
(module
  (memory 1)
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0))))
