;; run: wasmo exec --invoke f {artifact} 65530 7
;; memory.fill and memory.copy check their whole range once, up front: an
;; out-of-bounds range writes nothing and traps (WebAssembly 2.0).
(module
  (memory 1)
  (func (export "f") (param i32 i32) (result i32)
    (memory.fill (i32.const 0) (i32.const 0xaa) (i32.const 16))
    (memory.copy (i32.const 100) (i32.const 0) (i32.const 16))
    ;; partly out of bounds: must trap before writing byte 65530
    (memory.fill (local.get 0) (i32.const 1) (local.get 1))
    (i32.load8_u (i32.const 115))))
