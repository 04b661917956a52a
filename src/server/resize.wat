;; The live view's 2 × 2 mean (src/server/jpeg.ts, sampledResize): each output pixel the mean of
;; four source pixels, their byte offsets given by tables the caller fills (a column's left and
;; right pixel, a row's upper and lower one). In WebAssembly because JavaScript spent about 11 ns
;; a pixel on it (four unaligned word reads through a DataView), twice libjpeg-turbo's encode of
;; the result: measured in one process, interleaved, 640 → 480 px 1.83 ms in JavaScript against
;; 0.86 here, 1920 → 960 5.73 against 3.62 (2-core machine; the frame's copy into this module's
;; memory included).
;;
;; Each source pixel is read as one little-endian word, its three bytes and the next byte (the
;; caller leaves at least one byte of memory after the frame, so the last pixel's word stays in
;; bounds); red and blue are summed side by side in 16-bit lanes, green alone, and rounded as
;; (sum + 2) >> 2. The result is byte for byte the JavaScript definition that
;; test/integration/live-size.test.ts checks.
;;
;; Edit this file, then run `npm run build:wasm`: it writes src/server/resize-wasm.ts, and
;; test/unit/resize-wasm.test.ts fails while the two disagree.
(module
  (memory (export "memory") 1)
  (func (export "mean2x2")
    (param $src i32) (param $dst i32) (param $width i32) (param $height i32)
    (param $left i32) (param $right i32) (param $top i32) (param $bottom i32)
    (local $y i32) (local $x i32) (local $upper i32) (local $lower i32) (local $l i32) (local $r i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $redBlue i32) (local $green i32) (local $o i32)
    (local.set $o (local.get $dst))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $height)))
        (local.set $upper (i32.add (local.get $src) (i32.load (i32.add (local.get $top) (i32.shl (local.get $y) (i32.const 2))))))
        (local.set $lower (i32.add (local.get $src) (i32.load (i32.add (local.get $bottom) (i32.shl (local.get $y) (i32.const 2))))))
        (local.set $x (i32.const 0))
        (block $columnsDone
          (loop $columns
            (br_if $columnsDone (i32.ge_u (local.get $x) (local.get $width)))
            (local.set $l (i32.load (i32.add (local.get $left) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $r (i32.load (i32.add (local.get $right) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $a (i32.load (i32.add (local.get $upper) (local.get $l))))
            (local.set $b (i32.load (i32.add (local.get $upper) (local.get $r))))
            (local.set $c (i32.load (i32.add (local.get $lower) (local.get $l))))
            (local.set $d (i32.load (i32.add (local.get $lower) (local.get $r))))
            (local.set $redBlue
              (i32.add
                (i32.add
                  (i32.add (i32.and (local.get $a) (i32.const 0xff00ff)) (i32.and (local.get $b) (i32.const 0xff00ff)))
                  (i32.add (i32.and (local.get $c) (i32.const 0xff00ff)) (i32.and (local.get $d) (i32.const 0xff00ff))))
                (i32.const 0x20002)))
            (local.set $green
              (i32.add
                (i32.add
                  (i32.add (i32.and (i32.shr_u (local.get $a) (i32.const 8)) (i32.const 0xff)) (i32.and (i32.shr_u (local.get $b) (i32.const 8)) (i32.const 0xff)))
                  (i32.add (i32.and (i32.shr_u (local.get $c) (i32.const 8)) (i32.const 0xff)) (i32.and (i32.shr_u (local.get $d) (i32.const 8)) (i32.const 0xff))))
                (i32.const 2)))
            (i32.store8 (local.get $o) (i32.shr_u (local.get $redBlue) (i32.const 2)))
            (i32.store8 offset=1 (local.get $o) (i32.shr_u (local.get $green) (i32.const 2)))
            (i32.store8 offset=2 (local.get $o) (i32.shr_u (local.get $redBlue) (i32.const 18)))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $columns)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))))
