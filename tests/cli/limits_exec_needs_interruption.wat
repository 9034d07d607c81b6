;; run: wasmo exec -W timeout=1s --invoke spin {artifact}
;; Issue 13: an artifact built without interruption checks cannot be
;; stopped by -W timeout; the error names the wasmoc flag to rebuild with.
(module
  (func $spin (export "spin") (loop $l (br $l))))
