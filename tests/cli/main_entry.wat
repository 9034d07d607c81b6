;; run: wasmo exec {artifact}
;; Without `_start`, a parameterless `main` runs.
(module
  (func (export "main") (nop)))
