;; run: wasmo compile -O1 {wat} -o {artifact}
;; Issue 14: `wasmo compile` is `wasmoc build` (it spawns wasmoc).
(module (func (export "f")))
