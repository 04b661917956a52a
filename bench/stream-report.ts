/**
 * What `facestream bench stream` reports: every step's cameras and totals, the face-api baseline
 * and facestream's ratio to it per step, and the targets of issues 9, 11 and 15 as a checklist, each
 * with the value measured and PASS, FAIL or "not run" (its step, the baseline or the second runtime was not part of
 * this run). The same object is the `--json` document.
 */
import os from 'node:os';
import { printTable } from '../src/cli/args.js';
import type { InferenceRuntime } from '../src/models/runtime.js';
import type { BaselineResult } from './face-api-baseline.js';
import { PERSON } from './live.js';

export interface CameraResult {
  id: string;
  /** The source it plays, as printed. */
  clip: string;
  /** The enrolled person its clip shows, null: nobody enrolled. */
  person: string | null;
  fpsIn: number;
  fpsProcessed: number;
  /** Frames the viewer received per second. */
  deliveredFps: number;
  /** Frames received with at least one box, per second, and as a share of the frames received. */
  boxesPerS: number;
  boxesShare: number;
  framesDropped: number;
  emitP50: number;
  emitP95: number;
  clientP50: number;
  clientP95: number;
  detectMs: number;
  embedMsPerFace: number;
  /** Mean of the effective full-detection interval the camera reported, ms. */
  fullDetectionIntervalMs: number;
  /** Share of the samples on which the camera reported itself overloaded, 0..1; and its last reason. */
  overloaded: number;
  overloadReason: string | null;
  /** Seconds from the first frame showing `person`'s track to the first naming it, and from the stream's first frame; null where the clip shows nobody enrolled. */
  identity: { fromTrackS: number | null; fromFirstFrameS: number | null } | null;
  /** Share of the frames received on which `person` is named; null where the clip shows nobody enrolled. */
  namedShare: number | null;
  /** Frames received on which someone not in the clip was named, and the names. */
  wronglyNamedFrames: number;
  wrongNames: string[];
  /** Percent of one core: its ffmpeg decoder (a server child) and its publisher. */
  cpu: { decoder: number; publisher: number };
}

export interface StepResult {
  cameras: number;
  seconds: number;
  loadAverage: number[];
  perCamera: CameraResult[];
  /** Percent of one core over the measured window; cameraFfmpeg and publishers summed over the cameras. */
  cpu: { server: number; cameraFfmpeg: number; publishers: number; rtspServer: number };
  /** Share of the window the server's main thread was busy (event-loop utilisation), 0..1. */
  mainThreadBusy: number;
  /** Σ processed fps × detection ms / 1000: the share of time the detector worker was busy, 0..1. */
  detectorBusy: number;
}

/** CPU ms of one viewer JPEG: the full frame, and the frame scaled to the tile's width first. */
export interface EncodeCost {
  frame: string;
  tileWidth: number;
  /** How the tile was scaled. */
  tileMethod: string;
  fullMs: number;
  tileMs: number;
  ratio: number;
}

export interface Target {
  /** What is promised, e.g. "16 × 640×480: every camera ≥ 4 processed fps". */
  target: string;
  /** The figure the target is about (fps, s, ms, a ratio or a share, as the target says; frames for "no stranger named"); null when not run or never reached. */
  value: number | null;
  /** What was measured, in words, e.g. "min 3.1"; null when not run. */
  measured: string | null;
  pass: boolean | null;
}

/** The steps run on one runtime (`--runtime onnx,tfjs` runs them on each, in one run). */
export interface RuntimeRun {
  runtime: InferenceRuntime;
  steps: StepResult[];
}

/** The runtime whose speed-up issue 15 promises at 16 cameras, and the one it is measured against. */
const FASTER_RUNTIME: InferenceRuntime = 'onnx';
const SLOWER_RUNTIME: InferenceRuntime = 'tfjs';
const RUNTIME_SPEEDUP_TARGET = 1.5;

interface ReportInput {
  resolution: 480 | 1080;
  /** The runtime of `steps` (the first of `runtimes`). */
  runtime: InferenceRuntime;
  runtimes: RuntimeRun[];
  frame: { width: number; height: number };
  tileWidth: number;
  /** The person of the far small face (1080). */
  farPerson: string;
  steps: StepResult[];
  baseline: BaselineResult | null;
  encodeCost: EncodeCost | null;
  leftoverCameraProcesses: number;
}

export type StreamReport = ReturnType<typeof streamReport>;

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const mean = (values: number[]) => (values.length ? sum(values) / values.length : 0);

/** A step's figures summed over its cameras. */
function totals(step: StepResult) {
  const cams = step.perCamera;
  return {
    processedFps: sum(cams.map((c) => c.fpsProcessed)),
    minProcessedFps: Math.min(...cams.map((c) => c.fpsProcessed)),
    boxesPerS: sum(cams.map((c) => c.boxesPerS)),
    deliveredFps: sum(cams.map((c) => c.deliveredFps)),
    worstClientP95: Math.max(...cams.map((c) => c.clientP95)),
    /** Cameras that reported themselves overloaded on at least half the samples. */
    overloadedCameras: cams.filter((c) => c.overloaded >= 0.5).length,
    wronglyNamedFrames: sum(cams.map((c) => c.wronglyNamedFrames)),
    /** Percent of one core, every process of the bench. */
    cpu: step.cpu.server + step.cpu.cameraFfmpeg + step.cpu.publishers + step.cpu.rtspServer,
  };
}

export function streamReport(input: ReportInput) {
  const { frame, steps, baseline } = input;
  const withTotals = steps.map((step) => ({ ...step, totals: totals(step) }));
  return {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    frame: `${frame.width}×${frame.height} (clips letterboxed), 25 fps, RTSP over UDP on loopback; the viewer watches every camera asking for maxWidth ${input.tileWidth}`,
    resolution: input.resolution,
    steps: withTotals,
    baseline,
    /** facestream / baseline per step: processed fps and frames delivered with boxes per second, all cameras together. */
    ratios: baseline ? withTotals.map((s) => ({ cameras: s.cameras, processed: s.totals.processedFps / baseline.fps, boxes: s.totals.boxesPerS / baseline.fps })) : null,
    runtime: input.runtime,
    /** Every runtime's processed fps per step, when more than one ran. */
    runtimes:
      input.runtimes.length > 1
        ? input.runtimes.map((run) => ({
            runtime: run.runtime,
            steps: run.steps.map((s) => ({ cameras: s.cameras, processedFps: totals(s).processedFps, minProcessedFps: totals(s).minProcessedFps, boxesPerS: totals(s).boxesPerS })),
          }))
        : null,
    encodeCost: input.encodeCost,
    targets: targets(input),
    leftoverCameraProcesses: input.leftoverCameraProcesses,
  };
}

const f = (v: number, d = 1) => v.toFixed(d);
const percent = (share: number) => `${f(100 * share, 0)}%`;

/** The targets of issue 9 (1 and 4 cameras at 640×480) and issue 11, measured in this run where their steps ran. */
function targets({ resolution, frame, steps, baseline, encodeCost, farPerson, runtimes }: ReportInput): Target[] {
  const at = (cameras: number) => steps.find((s) => s.cameras === cameras);
  const check = (target: string, step: StepResult | undefined | null, measure: (s: StepResult) => { value: number | null; measured: string; pass: boolean }): Target => {
    if (!step) return { target, value: null, measured: null, pass: null };
    return { target, ...measure(step) };
  };
  const size = `${frame.width}×${frame.height}`;
  const list: Target[] = [];
  const one = at(1);
  const four = at(4);
  if (resolution === 480) {
    const main = (s: StepResult) => s.perCamera[0];
    list.push(
      check(`1 × ${size}: frames with boxes ≥ 24 a second`, one, (s) => ({ value: main(s).boxesPerS, measured: f(main(s).boxesPerS), pass: main(s).boxesPerS >= 24 })),
      check(`1 × ${size}: ${PERSON} named ≤ 1 s after the track starts`, one, (s) => {
        const delay = main(s).identity?.fromTrackS ?? null;
        return delay === null ? { value: null, measured: 'never named', pass: false } : { value: delay, measured: `${f(delay, 2)} s`, pass: delay <= 1 };
      }),
      check(`1 × ${size}: capture→emit p95 ≤ 150 ms`, one, (s) => ({ value: main(s).emitP95, measured: `${f(main(s).emitP95, 0)} ms`, pass: main(s).emitP95 <= 150 })),
      check(`4 × ${size}: every camera ≥ 8 processed fps`, four, (s) => {
        const min = totals(s).minProcessedFps;
        return { value: min, measured: `min ${f(min)}`, pass: min >= 8 };
      }),
      check(`4 × ${size}: processed fps of all cameras ≥ 5× the face-api baseline`, baseline ? four : null, (s) => {
        const ratio = totals(s).processedFps / (baseline?.fps ?? NaN);
        return { value: ratio, measured: `${f(ratio)}×`, pass: ratio >= 5 };
      }),
      check(`4 × ${size}: frames with boxes a second, all cameras, ≥ 5× the face-api baseline`, baseline ? four : null, (s) => {
        const ratio = totals(s).boxesPerS / (baseline?.fps ?? NaN);
        return { value: ratio, measured: `${f(ratio)}×`, pass: ratio >= 5 };
      }),
    );
    const sixteen = at(16);
    list.push(
      check(`16 × ${size}: every camera ≥ 4 processed fps`, sixteen, (s) => {
        const min = totals(s).minProcessedFps;
        return { value: min, measured: `min ${f(min)}`, pass: min >= 4 };
      }),
      check(
        `16 × ${size}: boxes on ≥ 90% of the frames on which the 1-camera run had boxes (boxes per delivered frame, cameras playing the 1-camera clip)`,
        one ? sixteen : null,
        (s) => {
          const clip = one?.perCamera[0]?.clip;
          const reference = one?.perCamera[0]?.boxesShare ?? 0;
          const share = mean(s.perCamera.filter((c) => c.clip === clip).map((c) => c.boxesShare));
          const ratio = reference > 0 ? share / reference : 0;
          return { value: ratio, measured: `${percent(ratio)} (${percent(share)} of frames against ${percent(reference)})`, pass: ratio >= 0.9 };
        },
      ),
      check(`16 × ${size}: capture→client p95 ≤ 250 ms`, sixteen, (s) => {
        const worst = totals(s).worstClientP95;
        return { value: worst, measured: `worst camera ${f(worst, 0)} ms`, pass: worst <= 250 };
      }),
      runtimeSpeedup(runtimes, 16, size),
      check(`8 × ${size}: processed fps of all cameras ≥ 90% of the 4-camera figure`, four ? at(8) : null, (s) => {
        const eight = totals(s).processedFps;
        const reference = four ? totals(four).processedFps : 0;
        const ratio = reference > 0 ? eight / reference : 0;
        return { value: ratio, measured: `${f(eight)} against ${f(reference)} (${percent(ratio)})`, pass: ratio >= 0.9 };
      }),
    );
  } else {
    list.push(
      check(`4 × ${size}: every camera ≥ 8 processed fps`, four, (s) => {
        const min = totals(s).minProcessedFps;
        return { value: min, measured: `min ${f(min)}`, pass: min >= 8 };
      }),
      check(`4 × ${size}: the far face named ${farPerson} on ≥ 80% of its frames`, four, (s) => {
        const far = s.perCamera.filter((c) => c.person === farPerson);
        const share = far.length ? Math.min(...far.map((c) => c.namedShare ?? 0)) : 0;
        return { value: far.length ? share : null, measured: far.length ? percent(share) : 'no far-face camera', pass: far.length > 0 && share >= 0.8 };
      }),
      check(`4 × ${size}: no stranger named`, four, (s) => {
        const wrong = s.perCamera.filter((c) => c.wronglyNamedFrames > 0);
        const names = [...new Set(wrong.flatMap((c) => c.wrongNames))];
        return {
          value: totals(s).wronglyNamedFrames,
          measured: wrong.length ? `${totals(s).wronglyNamedFrames} frames (${names.join(', ')} on ${wrong.map((c) => c.id).join(', ')})` : '0 frames',
          pass: wrong.length === 0,
        };
      }),
    );
    if (encodeCost) {
      list.push({
        target: `viewer JPEG for a ${encodeCost.tileWidth}-px tile ≤ 1/4 of the CPU of the full ${encodeCost.frame} frame`,
        value: encodeCost.ratio,
        measured: `${f(encodeCost.tileMs, 2)} against ${f(encodeCost.fullMs, 2)} ms (${percent(encodeCost.ratio)})`,
        pass: encodeCost.ratio <= 0.25,
      });
    }
  }
  return list;
}

/** Issue 15's target: `cameras` cameras on FASTER_RUNTIME reach RUNTIME_SPEEDUP_TARGET × their processed fps on SLOWER_RUNTIME, in the same run. */
function runtimeSpeedup(runtimes: RuntimeRun[], cameras: number, size: string): Target {
  const target = `${cameras} × ${size}: processed fps on ${FASTER_RUNTIME} ≥ ${RUNTIME_SPEEDUP_TARGET}× on ${SLOWER_RUNTIME}, in the same run (--runtime ${FASTER_RUNTIME},${SLOWER_RUNTIME})`;
  const fps = (runtime: InferenceRuntime) => {
    const step = runtimes.find((run) => run.runtime === runtime)?.steps.find((s) => s.cameras === cameras);
    return step ? totals(step).processedFps : null;
  };
  const [faster, slower] = [fps(FASTER_RUNTIME), fps(SLOWER_RUNTIME)];
  if (faster === null || slower === null) return { target, value: null, measured: null, pass: null };
  const ratio = slower > 0 ? faster / slower : Infinity;
  return { target, value: ratio, measured: `${f(faster)} against ${f(slower)} fps (${f(ratio, 2)}×)`, pass: ratio >= RUNTIME_SPEEDUP_TARGET };
}

export function printStreamReport(report: StreamReport): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out();
  out(`${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}; ${report.frame}`);
  out();
  for (const s of report.steps) {
    out(`${s.cameras} camera(s), ${f(s.seconds)} s measured, load average ${s.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);
    printTable(
      [
        'camera',
        'clip',
        'in fps',
        'processed fps',
        'delivered fps',
        'boxes fps',
        'boxes/frame',
        'dropped',
        'emit p95 ms',
        'client p50/p95 ms',
        'detect ms',
        'embed ms/face',
        'full-detect ms',
        'overloaded',
        'identity s',
        'named',
        'wrongly named',
        'ffmpeg % (dec/pub)',
      ],
      s.perCamera.map((c) => [
        c.id,
        c.clip,
        f(c.fpsIn),
        f(c.fpsProcessed),
        f(c.deliveredFps),
        f(c.boxesPerS),
        percent(c.boxesShare),
        c.framesDropped,
        f(c.emitP95, 0),
        `${f(c.clientP50, 0)}/${f(c.clientP95, 0)}`,
        f(c.detectMs),
        f(c.embedMsPerFace),
        f(c.fullDetectionIntervalMs, 0),
        c.overloaded > 0 ? percent(c.overloaded) : '-',
        c.identity === null ? '-' : c.identity.fromTrackS === null ? 'never' : f(c.identity.fromTrackS, 2),
        c.namedShare === null ? '-' : percent(c.namedShare),
        c.wronglyNamedFrames,
        `${f(c.cpu.decoder, 0)}/${f(c.cpu.publisher, 0)}`,
      ]),
    );
    const t = s.totals;
    out(
      `totals: processed ${f(t.processedFps)} fps (min ${f(t.minProcessedFps)} per camera), delivered ${f(t.deliveredFps)} fps, boxes ${f(t.boxesPerS)}/s, worst client p95 ${f(t.worstClientP95, 0)} ms, ${t.overloadedCameras} camera(s) overloaded`,
    );
    out(
      `CPU (% of one core): server process ${f(s.cpu.server, 0)} (with the Socket.IO client), camera ffmpeg Σ ${f(s.cpu.cameraFfmpeg, 0)}, publishers Σ ${f(s.cpu.publishers, 0)}, RTSP server ${f(s.cpu.rtspServer, 0)}, all ${f(t.cpu, 0)} of ${report.machine.cpus * 100}`,
    );
    out(`main thread busy ${percent(s.mainThreadBusy)}, detector worker busy ≈ ${percent(s.detectorBusy)} (Σ processed fps × detect ms)`);
    const reasons = [...new Set(s.perCamera.map((c) => c.overloadReason).filter((r) => r !== null))];
    if (reasons.length) out(`overload: ${reasons.join('; ')}`);
    out();
  }
  const { baseline, ratios } = report;
  if (baseline && ratios) {
    out(
      `baseline (${baseline.pipeline}; ${baseline.backend}${baseline.simd ? ' SIMD' : ''}, ${baseline.multithread ? 'multithreaded' : 'one thread'}): ${f(baseline.fps, 2)} fps, ${f(baseline.msPerFrame, 0)} ms/frame, ${f(baseline.facesPerFrame, 2)} faces/frame over ${baseline.frames} frames`,
    );
    out(
      `facestream / baseline, all cameras together: ${ratios.map((r) => `${r.cameras} camera(s) ${f(r.processed, 1)}× processed, ${f(r.boxes, 1)}× frames with boxes`).join('; ')} (1 camera is capped by the 25 fps input)`,
    );
  }
  if (report.runtimes) {
    out(`reported above: runtime ${report.runtime}; processed fps of all cameras on each runtime, the same steps in this run:`);
    for (const run of report.runtimes) {
      out(`  ${run.runtime}: ${run.steps.map((s) => `${s.cameras} camera(s) ${f(s.processedFps)} (min ${f(s.minProcessedFps)}), boxes ${f(s.boxesPerS)}/s`).join('; ')}`);
    }
  }
  if (report.encodeCost) {
    const e = report.encodeCost;
    out(`viewer JPEG of a ${e.frame} frame: ${f(e.fullMs, 2)} ms CPU full size, ${f(e.tileMs, 2)} ms scaled to ${e.tileWidth} px wide by ${e.tileMethod} (${percent(e.ratio)})`);
  }
  out();
  out('targets:');
  for (const t of report.targets) out(`  ${t.target} — ${t.measured === null ? 'not run' : `${t.measured} ${t.pass ? 'PASS' : 'FAIL'}`}`);
  if (report.leftoverCameraProcesses) out(`warning: ${report.leftoverCameraProcesses} camera ffmpeg process(es) left after stop`);
}
