;; run: wasmo run --no-cache -W timeout=200ms --invoke spin {wat}
;; Issue 13: -W timeout makes `wasmo run` compile with interruption checks,
;; and an infinite loop is interrupted: a trap, exit status 134.
(module
  (func $spin (export "spin") (loop $l (br $l))))
