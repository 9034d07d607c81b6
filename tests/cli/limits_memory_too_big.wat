;; run: wasmo exec -W max-memory-size=65536 --invoke f {artifact}
;; Issue 13: a memory whose minimum is past -W max-memory-size is not
;; created: instantiation fails, exit status 1.
(module
  (memory 2)
  (func $f (export "f")))
