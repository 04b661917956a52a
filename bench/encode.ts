/**
 * `facestream bench encode [--runs n] [--data dir] [--json]`: what a live viewer's JPEG costs the
 * server. One 1920×1080 frame of the benchmark clip (decoded with ffmpeg), encoded by the live
 * view's encoder (src/server/jpeg.ts, the same quality settings) at the full width and at the
 * widths a tile asks for; ms per frame of wall time, of CPU time (every thread of the process, so
 * libvips' too) and of the main thread's busy time (its event loop's active time while the encode
 * runs), median of --runs. Each width is encoded in process ("in process") and by the server's
 * JPEG worker (src/server/jpeg-encoder.ts) from the frame in shared memory ("worker"), in the
 * same run: the main thread's time is what the worker takes off it. Each row's "CPU vs full" is
 * against its own encoder's full frame, and the issue's target is read from the worker's, the
 * encoder the server runs. The "sharp resize" row is sharp scaling the full frame itself, the
 * way the encoder would without its sampled resize.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { UsageError, parse, printJson, printTable, rounded } from '../src/cli/args.js';
import type { Frame } from '../src/common/frame.js';
import { locateFfmpeg, runFfmpeg } from '../src/ingest/ffmpeg.js';
import { JPEG_ENCODER_NAME, JPEG_QUALITY, encodeJpeg } from '../src/server/jpeg.js';
import { JpegWorker } from '../src/server/jpeg-encoder.js';
import { BENCH_CLIPS, benchDataDir } from './live.js';

const WIDTH = 1920;
const HEIGHT = 1080;
/** Widths a tile asks for: the target compares 480 with the full frame. */
const TILE_WIDTHS = [960, 640, 480, 320];
/** The target: a 480 px tile costs at most this share of the full frame's CPU. */
const TARGET_SHARE_480 = 0.25;

interface Row {
  encode: string;
  width: number;
  wallMs: number;
  cpuMs: number;
  mainThreadMs: number;
  shareOfFull: number;
}

export async function benchEncode(argv: string[]): Promise<number> {
  const { values } = parse(argv, { runs: { type: 'string', default: '50' }, data: { type: 'string' }, json: { type: 'boolean', default: false } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 5 || runs > 1000) throw new UsageError('--runs must be a whole number from 5 to 1000');
  const clip = path.join(benchDataDir(values.data), 'video', BENCH_CLIPS[0]);
  if (!existsSync(clip)) throw new UsageError(`${clip}: no such clip (give the shared data folder with --data)`);
  const ffmpeg = await locateFfmpeg();
  const rgb = await runFfmpeg(ffmpeg.path, ['-ss', '1', '-i', clip, '-frames:v', '1', '-vf', `scale=${WIDTH}:${HEIGHT}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  const data = new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  if (data.byteLength !== WIDTH * HEIGHT * 3) throw new Error(`ffmpeg gave ${data.byteLength} bytes for a ${WIDTH}×${HEIGHT} frame`);
  const frameOf = (pixels: Uint8Array): Frame => ({
    cameraId: 'bench',
    seq: 0,
    ts: Date.now(),
    width: WIDTH,
    height: HEIGHT,
    data: pixels,
    slot: { buffer: pixels.buffer, acquire: () => undefined, release: () => undefined },
  });
  const frame = frameOf(data);
  // the server's frames lie in shared slots, which the worker reads in place
  const sharedPixels = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  sharedPixels.set(data);
  const sharedFrame = frameOf(sharedPixels);
  const worker = new JpegWorker();

  const full = await timeEncode(() => encodeJpeg(frame, WIDTH), runs);
  const rows: Row[] = [];
  try {
    const fullInWorker = await timeEncode(() => worker.encode(sharedFrame, WIDTH), runs);
    for (const width of [WIDTH, ...TILE_WIDTHS]) {
      const timed = width === WIDTH ? full : await timeEncode(() => encodeJpeg(frame, width), runs);
      rows.push({ encode: 'in process', width, ...timed, shareOfFull: timed.cpuMs / full.cpuMs });
      const inWorker = width === WIDTH ? fullInWorker : await timeEncode(() => worker.encode(sharedFrame, width), runs);
      rows.push({ encode: 'worker', width, ...inWorker, shareOfFull: inWorker.cpuMs / fullInWorker.cpuMs });
    }
  } finally {
    await worker.close();
  }
  const sharpResize = () =>
    sharp(data, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .resize({ width: 480, kernel: 'linear' })
      .jpeg({ quality: JPEG_QUALITY, optimiseCoding: false })
      .toBuffer();
  const resized = await timeEncode(sharpResize, runs);
  rows.push({ encode: 'sharp resize', width: 480, ...resized, shareOfFull: resized.cpuMs / full.cpuMs });

  // the server's encoder is the worker (each row's share is of its own encoder's full frame)
  const share480 = rows.find((row) => row.encode === 'worker' && row.width === 480)?.shareOfFull ?? NaN;
  const met = share480 <= TARGET_SHARE_480;
  if (values.json) {
    printJson({
      frame: `${WIDTH}x${HEIGHT}`,
      clip: BENCH_CLIPS[0],
      runs,
      quality: JPEG_QUALITY,
      encoder: JPEG_ENCODER_NAME,
      rows,
      target: { share480: TARGET_SHARE_480, measured: share480, met },
    });
    return 0;
  }
  process.stdout.write(`JPEG encode of one ${WIDTH}×${HEIGHT} frame (${BENCH_CLIPS[0]}) by ${JPEG_ENCODER_NAME}, quality ${JPEG_QUALITY}, median of ${runs}\n`);
  printTable(
    ['encode', 'width', 'wall ms', 'CPU ms', 'main thread ms', 'CPU vs full'],
    rows.map((row) => [row.encode, row.width, rounded(row.wallMs, 2), rounded(row.cpuMs, 2), rounded(row.mainThreadMs, 2), `${Math.round(row.shareOfFull * 100)}%`]),
  );
  process.stdout.write(
    `480 px tile, by the server's JPEG worker: ${Math.round(share480 * 100)}% of the full frame's CPU (target ≤ ${TARGET_SHARE_480 * 100}%: ${met ? 'met' : 'NOT met'})\n`,
  );
  return 0;
}

/** Median wall, CPU and main-thread ms of `runs` encodes, one at a time, after a few to warm up. */
async function timeEncode(encode: () => Promise<unknown>, runs: number): Promise<{ wallMs: number; cpuMs: number; mainThreadMs: number }> {
  for (let i = 0; i < 3; i++) await encode();
  const wall: number[] = [];
  const cpu: number[] = [];
  const main: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpuBefore = process.cpuUsage();
    const loopBefore = performance.eventLoopUtilization();
    const started = performance.now();
    await encode();
    wall.push(performance.now() - started);
    main.push(performance.eventLoopUtilization(loopBefore).active);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu), mainThreadMs: median(main) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}
