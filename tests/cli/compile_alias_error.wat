;; run: wasmo compile {wat} -o {artifact}
;; Issue 14: `wasmo compile` reports wasmoc's errors and exits as it does.
(module (func (export "f") (result i32)))
