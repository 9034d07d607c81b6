;; run: wasmo exec -W max-wasm-stack=1048576,frobnicate --invoke f {artifact}
;; Issue 14: a -W key wasmo does not know is an error naming it.
(module (func (export "f")))
