;; run: wasmo exec -W max-memory-size=1048576 --invoke bomb {artifact}
;; Issue 13: a memory bomb under -W max-memory-size: memory.grow answers -1
;; at 1 MiB (16 pages) and the program goes on to report its size.
(module
  (memory 1)
  (func $bomb (export "bomb") (result i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
    (memory.size)))
