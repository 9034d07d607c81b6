;; run: wasmo exec {artifact}
;; Imports cannot be satisfied yet (no WASI): the error names the import.
(module
  (import "env" "missing" (func))
  (func (export "_start") (call 0)))
