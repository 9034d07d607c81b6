;; run: wasmo exec {artifact}
;; A trap in `_start`: `error: wasm trap: ...`, a backtrace, exit status 134.
(module
  (func $divide (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func $start (export "_start")
    (drop (call $divide (i32.const 1) (i32.const 0)))))
