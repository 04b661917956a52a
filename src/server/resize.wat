;; The live view's 2 × 2 mean (src/server/jpeg.ts, sampledResize): each output pixel the mean of
;; four source pixels, their byte offsets given by tables the caller fills (a column's left and
;; right pixel, a row's upper and lower one). In WebAssembly because JavaScript spent about 11 ns
;; a pixel on it (four unaligned word reads through a DataView), twice libjpeg-turbo's encode of
;; the result: measured in one process, interleaved, 640 → 480 px 1.83 ms in JavaScript against
;; 0.86 here, 1920 → 960 5.73 against 3.62 (2-core machine; the frame's copy into this module's
;; memory included).
;;
;; Each output row first sums its two source rows byte by byte into 16-bit lanes, 16 bytes at a
;; time (SIMD: Node's V8 has it on every x86-64 with SSE4.1 and on ARM64); then each pixel adds
;; its two columns' sums as one 64-bit word (red, green, blue and the next pixel's red, four lanes
;; that cannot carry into each other: each at most 4 × 255 + 2), rounds as (sum + 2) >> 2 and
;; writes its three bytes as one 32-bit word, the fourth overwritten by the next pixel. Against
;; one word read per source pixel (the first version of this file), measured in one process,
;; interleaved: 640 → 480 1.97 → 1.32 ms, 1920 → 960 5.76 → 4.19 (an hour when the machine ran
;; slower). The caller leaves slack after each area (MeanKernel in jpeg.ts says how much). The
;; result is byte for byte the definition that test/integration/live-size.test.ts checks.
;;
;; Edit this file, then run `npm run build:wasm`: it writes src/server/resize-wasm.ts, and
;; test/unit/resize-wasm.test.ts fails while the two disagree.
(module
  (memory (export "memory") 1)
  (func (export "mean2x2")
    (param $src i32) (param $row i32) (param $dst i32) (param $width i32) (param $height i32)
    (param $left i32) (param $right i32) (param $top i32) (param $bottom i32) (param $sums i32)
    (local $y i32) (local $x i32) (local $upper i32) (local $lower i32) (local $i i32)
    (local $a v128) (local $b v128) (local $s i64) (local $o i32)
    (local.set $o (local.get $dst))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $height)))
        (local.set $upper (i32.add (local.get $src) (i32.load (i32.add (local.get $top) (i32.shl (local.get $y) (i32.const 2))))))
        (local.set $lower (i32.add (local.get $src) (i32.load (i32.add (local.get $bottom) (i32.shl (local.get $y) (i32.const 2))))))
        ;; the two rows summed, byte by byte into 16-bit lanes, 16 bytes at a time
        (local.set $i (i32.const 0))
        (block $sumDone
          (loop $sum
            (br_if $sumDone (i32.ge_u (local.get $i) (local.get $row)))
            (local.set $a (v128.load (i32.add (local.get $upper) (local.get $i))))
            (local.set $b (v128.load (i32.add (local.get $lower) (local.get $i))))
            (v128.store (i32.add (local.get $sums) (i32.shl (local.get $i) (i32.const 1)))
              (i16x8.add (i16x8.extend_low_i8x16_u (local.get $a)) (i16x8.extend_low_i8x16_u (local.get $b))))
            (v128.store offset=16 (i32.add (local.get $sums) (i32.shl (local.get $i) (i32.const 1)))
              (i16x8.add (i16x8.extend_high_i8x16_u (local.get $a)) (i16x8.extend_high_i8x16_u (local.get $b))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $sum)))
        ;; each pixel: its two columns' sums, four lanes (red, green, blue, the next red) in one add
        (local.set $x (i32.const 0))
        (block $columnsDone
          (loop $columns
            (br_if $columnsDone (i32.ge_u (local.get $x) (local.get $width)))
            (local.set $s
              (i64.shr_u
                (i64.add
                  (i64.add
                    (i64.load (i32.add (local.get $sums) (i32.shl (i32.load (i32.add (local.get $left) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 1))))
                    (i64.load (i32.add (local.get $sums) (i32.shl (i32.load (i32.add (local.get $right) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 1)))))
                  (i64.const 0x0002000200020002))
                (i64.const 2)))
            (i32.store (local.get $o)
              (i32.or
                (i32.or
                  (i32.and (i32.wrap_i64 (local.get $s)) (i32.const 0xff))
                  (i32.and (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 8))) (i32.const 0xff00)))
                (i32.and (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 16))) (i32.const 0xff0000))))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $columns)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))))
