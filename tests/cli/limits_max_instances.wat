;; run: wasmo exec -W max-instances=1 --preload dep={artifact} --invoke f {artifact}
;; Issue 13: -W max-instances counts the --preload instances too: the
;; second instance is refused, exit status 1.
(module
  (func $f (export "f")))
