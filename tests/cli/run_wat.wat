;; run: wasmo run --invoke fac {wat} 20
;; `wasmo run` compiles through the wasmoc binary, then runs.
(module
  (func $fac (export "fac") (param $n i64) (result i64)
    (if (result i64) (i64.le_u (local.get $n) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get $n)
                     (call $fac (i64.sub (local.get $n) (i64.const 1))))))))
