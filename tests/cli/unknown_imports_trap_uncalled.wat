;; run: wasmo exec -Wunknown-imports-trap --invoke answer {artifact}
;; Issue 14: an unknown import that is never called does not matter under
;; -W unknown-imports-trap (the attached `-WKEY` form).
(module
  (import "env" "missing" (func $missing (result i32)))
  (func (export "answer") (result i32) (i32.const 42))
  (func (export "call_missing") (result i32) (call $missing)))
