;; run: wasmo run --no-cache --preload mathlib={dir}/preload_lib.wat --invoke quad {wat} 5
;; Issue 14: --preload NAME=MODULE links another module's exports under NAME.
(module
  (import "mathlib" "double" (func $double (param i32) (result i32)))
  (func (export "quad") (param i32) (result i32) (call $double (call $double (local.get 0)))))
