;; run: wasmo exec --invoke deep {artifact} 0
;; Unbounded recursion is a trap (exit 134), not a crash.
(module
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))
