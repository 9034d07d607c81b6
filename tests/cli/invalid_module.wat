;; run: wasmoc build {wat} -o {artifact}
;; A module that parses but does not validate: the error names the byte offset.
(module
  (func (export "f") (result i32)
    (i64.const 1)))
