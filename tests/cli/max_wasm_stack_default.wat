;; run: wasmo exec --invoke deep {artifact} 200000
;; Issue 14: the default wasm stack (2 MiB) does not hold 200000 frames
(module
  (func $deep (export "deep") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $deep (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))
