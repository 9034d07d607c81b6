;; run: wasmo exec -W max-wasm-stack=16777216 --invoke deep {artifact} 200000
;; Issue 14: -W max-wasm-stack deepens the wasm stack: 200000 frames do not
;; fit the default 2 MiB (max_wasm_stack_default.wat) but fit 16 MiB.
(module
  (func $deep (export "deep") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $deep (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))
