;; run: wasmo exec --invoke swap {artifact} 0x00000004000000030000000200000001
;; `--invoke` takes and prints v128 values as 0x and 32 hex digits (lane 0
;; in the low bits); here the i32 lanes come back reversed.
(module
  (func (export "swap") (param v128) (result v128)
    (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get 0) (local.get 0))))
