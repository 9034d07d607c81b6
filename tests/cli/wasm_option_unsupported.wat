;; run: wasmo exec -W epoch-interruption --invoke f {artifact}
;; Issue 14: a -W key of wasmtime's that wasmo lacks is refused as such.
(module (func (export "f")))
