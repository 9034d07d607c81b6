;; run: wasmo exec -S threads {artifact}
;; Issue 12: wasi-threads. `_start` spawns four threads with
;; `wasi.thread-spawn`; each adds 1 to a shared counter 25000 times with
;; `i32.atomic.rmw.add`, then counts itself done and notifies. The main
;; thread waits with `memory.atomic.wait32` until all four are done and
;; prints the total with `fd_write` (from the WASI context all threads
;; share).
(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  ;; 0: the counter, 4: threads done, 64: an iovec, 100..121: the text
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (local $i i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (local.get $arg)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 25000))))
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const 1))))
  (func (export "_start")
    (local $n i32) (local $done i32) (local $v i32) (local $p i32)
    (loop $s
      (if (i32.le_s (call $spawn (i32.const 1)) (i32.const 0)) (then unreachable))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $s (i32.lt_u (local.get $n) (i32.const 4))))
    (block $all
      (loop $w
        (local.set $done (i32.atomic.load (i32.const 4)))
        (br_if $all (i32.ge_u (local.get $done) (i32.const 4)))
        (drop (memory.atomic.wait32 (i32.const 4) (local.get $done) (i64.const -1)))
        (br $w)))
    ;; the total in decimal, then a newline, ending at 120
    (local.set $v (i32.atomic.load (i32.const 0)))
    (local.set $p (i32.const 120))
    (i32.store8 (i32.const 120) (i32.const 10))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $d (local.get $v)))
    (i32.store (i32.const 64) (local.get $p))
    (i32.store (i32.const 68) (i32.sub (i32.const 121) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72)))))
