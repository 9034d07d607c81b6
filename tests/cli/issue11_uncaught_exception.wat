;; run: wasmo exec {artifact}
;; An exception nothing catches ends the program like an uncaught C++
;; exception: `error: uncaught wasm exception` with the tag's export name
;; and the payload, then the backtrace of the throw, exit status 134
;; (issue 11).
(module
  (tag $oops (export "oops") (param i32 i64))
  (func $inner (throw $oops (i32.const 7) (i64.const -1)))
  (func (export "_start")
    (block $h
      (try_table (catch_all $h)
        (nop)))
    (call $inner)))
