;; run: wasmo run --no-cache --preload otherlib={dir}/preload_lib.wat --invoke quad {wat} 5
;; Issue 14: an import the preloaded modules do not provide is still an
;; error naming it.
(module
  (import "mathlib" "double" (func $double (param i32) (result i32)))
  (func (export "quad") (param i32) (result i32) (call $double (call $double (local.get 0)))))
