;; run: wasmo exec -W fuel=1000 --invoke spin {artifact}
;; Issue 13: an artifact built without fuel counting cannot be held to
;; -W fuel; the error names the wasmoc flag to rebuild with.
(module
  (func $spin (export "spin") (loop $l (br $l))))
