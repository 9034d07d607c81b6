;; run: wasmo exec -W unknown-imports-trap --invoke call_missing {artifact}
;; Issue 14: with -W unknown-imports-trap an unknown imported function is
;; linked, and fails with wasmtime's message only when called.
(module
  (import "env" "missing" (func $missing (result i32)))
  (func (export "call_missing") (result i32) (call $missing)))
