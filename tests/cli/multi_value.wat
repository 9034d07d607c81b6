;; run: wasmo exec --invoke many {artifact} 7
;; Multi-value: a function with six results of mixed types, reached through
;; a direct call, an indirect call and a loop and an `if` with parameters;
;; `--invoke` prints one result per line, as `wasmtime run --invoke` does.
(module
  (type $six (func (param i32) (result i64 f64 i32 f32 i64 i32)))
  (func $inner (type $six)
    (i64.const 1) (f64.const 2.5) (local.get 0) (f32.const 4.5) (i64.const 5)
    ;; sum of n..1 through a loop whose parameters are (acc, n)
    (i32.const 0) (local.get 0)
    (loop $l (param i32 i32) (result i32 i32)
      (local.set 0)
      (local.get 0) (i32.add)
      (local.get 0) (i32.const 1) (i32.sub)
      (local.tee 0)
      (br_if $l (local.get 0)))
    (drop)
    ;; an `if` that takes the sum as its parameter
    (if (param i32) (result i32) (i32.const 1)
      (then (i32.const 100) (i32.add))
      (else (i32.const 100) (i32.sub))))
  (table funcref (elem $inner))
  (func (export "many") (type $six)
    (call_indirect (type $six) (local.get 0) (i32.const 0))))
