;; run: wasmo exec -S inherit-env,frobnicate --invoke f {artifact}
;; Issue 14: a -S key wasmo does not know is an error naming it.
(module (func (export "f")))
