;; run: wasmo run --no-cache -W fuel=100000 --invoke spin {wat}
;; Issue 13: -W fuel makes `wasmo run` compile with fuel counting, and an
;; infinite loop runs out of fuel: a trap, exit status 134.
(module
  (func $spin (export "spin") (loop $l (br $l))))
