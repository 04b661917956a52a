/**
 * One camera: one ffmpeg child, its frames, and a watchdog that keeps it running.
 *
 * Each attempt probes the source (probe.ts), starts ffmpeg with arguments from ffmpeg-args.ts and
 * cuts its stdout into frames (frame-reader.ts). When ffmpeg exits, or no frame arrives for
 * `stallTimeoutMs`, the child is stopped and, after a capped exponential backoff, started again;
 * errors that retrying cannot fix (a missing file, a wrong password, a file that is not video)
 * end in `failed`. There is never more than one child per camera: a new one starts only after
 * the old one has exited, and `stop()` resolves only once the child is gone.
 *
 * The decisions are pure functions in their own files, tested on their own: what an ffmpeg error
 * means (stream-problem.ts) and the state transitions and backoff (watchdog.ts); this class wires
 * them to processes and timers.
 *
 * States (what a user sees):
 * - `connecting`: started, no frame yet. Errors that retrying may fix (connection refused,
 *   stream not found, timeouts) keep this state, with the error as the reason, while it retries.
 * - `live`: frames are arriving.
 * - `stalled`: it was live, and then frames stopped (no frames for N s, or ffmpeg ended with an
 *   error); it retries with backoff and goes back to `live` by itself.
 * - `failed`: retrying will not help (file not found, wrong user name or password, access denied,
 *   a file that is not video, transport refused, a file that ended with `loop: false`); the reason says
 *   what to fix. `start()` again (after fixing the config) tries again.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { ffmpegArgs, filePath, fitWithin, outputFps, sourceKind, type SourceSpec, type SourceKind } from './ffmpeg-args.js';
import { redactText, redactUrl } from '../common/redact.js';
import { locateFfmpeg, stopChild, type FfmpegInfo } from './ffmpeg.js';
import type { FramePipe } from './frame-pipe.js';
import { FrameReader } from './frame-reader.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probeSource, type SourceInfo } from './probe.js';
import type { Frame } from '../common/frame.js';
import type { CameraState } from '../common/live-events.js';
import { RateMeter } from '../common/rate-meter.js';
import type { SlotPool } from '../common/slot-pool.js';
import { classifyStderr, noVideoProblem, type ProblemContext, type StreamProblem } from './stream-problem.js';
import { DEFAULT_BACKOFF, INITIAL_WATCH_STATE, backoffDelay, failuresAfterRun, nextWatchState, type BackoffPolicy, type WatchEvent, type WatchState } from './watchdog.js';

/** A camera's stream as ingest sees it (ffmpeg, watchdog, frames read), safe to show (the URL is redacted). */
export interface StreamStatus {
  id: string;
  url: string;
  state: Exclude<CameraState, 'stopped'>;
  reason: string | null;
  /** When the state last changed, ms since the epoch. */
  since: number;
  /** When the next retry starts, or null when none is scheduled. */
  retryAt: number | null;
  /** ffmpeg (re)starts after the first one. */
  restarts: number;
  framesIn: number;
  /** Frames read and dropped because every slot of the ring was held (see frame-reader.ts). */
  framesDropped: number;
  /** Frames per second over the last 2 s. */
  fpsIn: number;
  lastFrameAt: number | null;
  /** Frame size delivered (after scaling), or null before the first probe. */
  width: number | null;
  height: number | null;
  sourceWidth: number | null;
  sourceHeight: number | null;
  sourceFps: number | null;
  /** The running ffmpeg's process id, or null. */
  pid: number | null;
}

export interface CameraLog {
  cameraId: string;
  level: 'info' | 'warn' | 'error';
  /** Redacted: never contains the camera's password. */
  message: string;
}

export interface CameraEvents {
  frame: [Frame];
  state: [StreamStatus];
  log: [CameraLog];
}

export interface CameraOptions {
  id: string;
  source: SourceSpec;
  /** Frames per second to keep; null keeps the source's rate. Default 25. */
  targetFps?: number | null;
  /**
   * ffmpeg scales down (never up) to fit in this; defaults 640 × 480. This is the size every
   * stage sees: detection scales its own copy further (the pipeline's detectWidth), alignment and
   * embedding read these pixels, and each of the ring's slots is width × height × 3 bytes.
   */
  maxWidth?: number;
  maxHeight?: number;
  /** A live camera with no frame for this long is stalled and restarted. Default 10 000 ms. */
  stallTimeoutMs?: number;
  /** A started ffmpeg with no first frame after this long is restarted. Default 20 000 ms. */
  firstFrameTimeoutMs?: number;
  /** Kill a probe that takes longer. Default 15 000 ms. */
  probeTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** The ffmpeg to run; located (once per camera) when not given. */
  ffmpeg?: FfmpegInfo;
  /** Frame ring size; default CAMERA_FRAME_SLOTS. */
  framePoolSize?: number;
  /** Ring memory shared with the other cameras (reused after a restart or a removal); a new ring each start when absent. */
  framePool?: SlotPool;
  /** Read ffmpeg's frames off the main thread through this pipe (one for all cameras, see frame-pipe.ts); its stdout on the main thread when absent. */
  framePipe?: FramePipe;
  /** stderr lines passed on as log events per 10 s, the rest counted; default 20. */
  maxLogLinesPer10s?: number;
}

/** ffmpeg as a camera runs it: its stdout is null when it writes to a frame pipe's FIFO. */
type FfmpegChild = ChildProcessByStdio<null, Readable | null, Readable>;

const STDERR_TAIL_LINES = 30;

/**
 * A camera's ring: the frame being read plus every frame the stages hold at once. At 25 fps:
 * the pipeline's waiting detection, three detections in flight (the embedder detects too, and
 * one may wait in the detector's queue: DETECTOR_QUEUE) and an embedding waiting and one
 * running; the live encoder's frame and the 4 it queues (server/live.ts); after a scene cut, up
 * to 7 frames held for the new shot's boxes (MAX_HELD_FRAMES in pipeline/vision-pipeline.ts: a
 * ring must be larger, or a hold could take every slot). Those overlap (a held frame is also
 * the one waiting for detection), so 13 slots cover the worst case seen (12 before the
 * detector's queue); as much memory as the ring of 8 and the pipeline's own 4 slots that frames
 * were copied into before, and one slot more.
 */
export const CAMERA_FRAME_SLOTS = 13;

export class Camera extends EventEmitter<CameraEvents> {
  readonly id: string;
  readonly source: SourceSpec;
  private readonly options: CameraOptions;
  private readonly backoff: BackoffPolicy;
  private readonly kind: SourceKind;
  private readonly rates = new RateMeter(2000);

  private watch: WatchState = { ...INITIAL_WATCH_STATE };
  private since = Date.now();
  private running = false;
  /** Bumped by start() and stop(): work begun under an older generation drops its results. */
  private generation = 0;
  private ffmpeg: FfmpegInfo | null;
  private child: FfmpegChild | null = null;
  private childDone: Promise<void> | null = null;
  /** Children the watchdog stopped: their exit is expected, not an error to classify. */
  private readonly killed = new WeakSet<FfmpegChild>();
  private probeAbort: AbortController | null = null;
  private attemptDone: Promise<void> | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt: number | null = null;
  private failures = 0;
  private attempts = 0;
  private seq = 0;
  private framesIn = 0;
  /** The running ffmpeg's frame reader, and the frames earlier readers dropped. */
  private reader: FrameReader | null = null;
  private framesDroppedBefore = 0;
  private lastFrameAt: number | null = null;
  private liveSince: number | null = null;
  private info: SourceInfo | null = null;
  private output: { width: number; height: number } | null = null;
  private logWindowStart = 0;
  private logLinesInWindow = 0;
  private logLinesSuppressed = 0;

  constructor(options: CameraOptions) {
    super();
    this.options = options;
    this.id = options.id;
    this.source = options.source;
    this.kind = sourceKind(options.source.url);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.ffmpeg = options.ffmpeg ?? null;
  }

  /** The source as it may be shown anywhere: password hidden. */
  get displayUrl(): string {
    return redactUrl(this.source.url);
  }

  get state(): Exclude<CameraState, 'stopped'> {
    return this.watch.state;
  }

  /** Process id of the running ffmpeg, or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  status(now = Date.now()): StreamStatus {
    return {
      id: this.id,
      url: this.displayUrl,
      state: this.watch.state,
      reason: this.watch.reason,
      since: this.since,
      retryAt: this.retryAt,
      restarts: Math.max(0, this.attempts - 1),
      framesIn: this.framesIn,
      framesDropped: this.framesDroppedBefore + (this.reader?.framesDropped ?? 0),
      fpsIn: this.rates.rate(now),
      lastFrameAt: this.lastFrameAt,
      width: this.output?.width ?? null,
      height: this.output?.height ?? null,
      sourceWidth: this.info?.width ?? null,
      sourceHeight: this.info?.height ?? null,
      sourceFps: this.info?.fps ?? null,
      pid: this.pid,
    };
  }

  /** Starts streaming (probe, then ffmpeg). Does nothing if already running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation += 1;
    this.failures = 0;
    this.transition({ type: 'start' }, true);
    this.launch(this.generation);
  }

  /**
   * Stops the watchdog, any probe and the ffmpeg child (SIGTERM, SIGKILL after 2 s). Resolves once
   * every child has exited. Safe to call at any time, more than once.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.generation += 1;
    this.clearWatchdog();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
    this.probeAbort?.abort();
    // wait for an attempt in progress (it sees the new generation and stops), then for the child
    while (this.attemptDone || this.child) {
      if (this.attemptDone) await this.attemptDone;
      const child = this.child;
      if (child) {
        await stopChild(child);
        await this.childDone;
      }
    }
    this.liveSince = null;
  }

  // -- internals --------------------------------------------------------------------------------

  private transition(event: WatchEvent, force = false): void {
    const next = nextWatchState(this.watch, event);
    const changed = next.state !== this.watch.state || next.reason !== this.watch.reason;
    if (next.state !== this.watch.state) this.since = Date.now();
    this.watch = next;
    if (changed || force) this.emit('state', this.status());
  }

  private log(level: CameraLog['level'], message: string): void {
    this.emit('log', { cameraId: this.id, level, message: redactText(message, [this.source.url]) });
  }

  private launch(generation: number): void {
    const done = this.attempt(generation).catch((error: unknown) => {
      // a bug, not a stream problem: report it and retry like any other failure
      this.log('error', `camera attempt failed unexpectedly: ${(error as Error).stack ?? String(error)}`);
      if (generation === this.generation) this.ended({ kind: 'unknown', reason: `internal error: ${(error as Error).message}`, retry: true });
    });
    const tracked: Promise<void> = done.finally(() => {
      if (this.attemptDone === tracked) this.attemptDone = null;
    });
    this.attemptDone = tracked;
  }

  private context(exitCode?: number | null): ProblemContext {
    return {
      kind: this.kind,
      displayName: this.kind === 'file' ? filePath(this.source.url) : this.displayUrl,
      transport: this.kind === 'rtsp' ? (this.source.transport ?? 'tcp') : undefined,
      exitCode,
    };
  }

  private async attempt(generation: number): Promise<void> {
    this.attempts += 1;
    if (!this.ffmpeg) {
      try {
        this.ffmpeg = await locateFfmpeg();
      } catch (error) {
        if (generation !== this.generation) return;
        this.ended({ kind: 'ffmpeg-missing', reason: (error as Error).message, retry: false });
        return;
      }
      if (generation !== this.generation) return;
    }
    const ffmpeg = this.ffmpeg;

    this.probeAbort = new AbortController();
    const probe = await probeSource(this.source, ffmpeg, {
      timeoutMs: this.options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      signal: this.probeAbort.signal,
    });
    this.probeAbort = null;
    if (generation !== this.generation) return;
    if (!probe.ok) {
      // ffprobe quotes the URL back ("rtsp://admin:a/b:pw@host/x: Invalid argument"), and its
      // last line becomes the camera's reason, shown by the API and the page
      const stderr = redactText(probe.stderr, [this.source.url]).trim();
      if (stderr) this.log('warn', `probe failed: ${stderr}`);
      if (probe.spawnError) {
        this.ended({ kind: 'ffmpeg-missing', reason: `${probe.spawnError}: install ffmpeg (with ffprobe) or set FFMPEG_PATH`, retry: false });
      } else if (probe.timedOut) {
        this.ended({ kind: 'timeout', reason: 'no answer from the camera (timed out): check the address and the network', retry: true });
      } else if (!stderr && probe.exitCode === 0) {
        this.ended(noVideoProblem(this.kind));
      } else {
        this.ended(classifyStderr(stderr, this.context(probe.exitCode)));
      }
      return;
    }

    this.info = probe.info;
    const output = fitWithin(probe.info.width, probe.info.height, this.options.maxWidth ?? 640, this.options.maxHeight ?? 480);
    this.output = output;
    const fps = outputFps(this.options.targetFps === undefined ? 25 : this.options.targetFps, probe.info.fps);
    const args = ffmpegArgs(this.source, ffmpeg, { ...output, fps });
    this.log(
      'info',
      `starting ffmpeg: ${probe.info.width}x${probe.info.height}${probe.info.fps ? ` @ ${probe.info.fps.toFixed(2)} fps` : ''} ${probe.info.codec ?? ''} → ${output.width}x${output.height}${fps ? ` @ ${fps} fps` : ''}`,
    );
    this.spawnFfmpeg(ffmpeg, args, output, probe.info, generation);
  }

  private spawnFfmpeg(ffmpeg: FfmpegInfo, args: string[], output: { width: number; height: number }, info: SourceInfo, generation: number): void {
    const pipe = this.options.framePipe;
    const fifo = pipe?.createFifo() ?? null;
    // stdin ignored, stderr piped, stdout the FIFO or a pipe: the typings cannot follow a stdio array chosen at run time
    const child = spawn(ffmpeg.path, args, { stdio: ['ignore', fifo ? fifo.fd : 'pipe', 'pipe'] }) as FfmpegChild;
    this.child = child;
    const stderrTail: string[] = [];
    let partialLine = '';
    let runFrames = 0;
    let spawnError: Error | null = null;

    const readerOptions = {
      ...output,
      poolSize: this.options.framePoolSize ?? CAMERA_FRAME_SLOTS,
      pool: this.options.framePool,
      cameraId: this.id,
      firstSeq: this.seq,
      sourceWidth: info.width,
      sourceHeight: info.height,
    };
    const reader = new FrameReader(readerOptions, (frame) => {
      // a child being stopped flushes frames it had decoded: they are not news of a live stream
      if (generation !== this.generation || this.killed.has(child)) return;
      runFrames += 1;
      this.onFrame(frame);
    });
    this.reader = reader;
    // read off the main thread when the pipe could make a FIFO; its stream ends once ffmpeg has exited and every frame was emitted
    const drained = pipe && fifo ? reader.attachPipe(pipe, fifo) : null;
    if (child.stdout) reader.attach(child.stdout);

    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partialLine + text).split(/\r?\n/);
      partialLine = lines.pop() ?? '';
      for (const line of lines) this.onStderrLine(line, stderrTail);
    });

    child.on('error', (error) => {
      spawnError = error; // 'close' follows
    });

    // the watchdog: a first frame within firstFrameTimeoutMs, then no gap over stallTimeoutMs
    const firstFrameMs = this.options.firstFrameTimeoutMs ?? 20_000;
    this.armWatchdog(firstFrameMs, () => {
      this.markKilled(child);
      this.transition({ type: 'no-frames', seconds: Math.round(firstFrameMs / 100) / 10 });
      void stopChild(child);
    });

    this.childDone = new Promise<void>((resolve) => {
      child.on('close', (code, signal) => void untilDrained(drained).then(() => closed(code, signal)));
      const closed = (code: number | null, signal: NodeJS.Signals | null) => {
        reader.release(); // frames still held go back to the pool as their holders release them
        this.framesDroppedBefore += reader.framesDropped;
        if (this.reader === reader) this.reader = null;
        if (partialLine) this.onStderrLine(partialLine, stderrTail);
        if (this.child === child) this.child = null;
        this.clearWatchdog();
        resolve();
        if (generation !== this.generation) return; // stopped or restarted meanwhile
        const liveMs = this.liveSince === null ? 0 : Date.now() - this.liveSince;
        this.liveSince = null;
        if (spawnError) {
          this.ended({ kind: 'ffmpeg-missing', reason: `could not run ffmpeg (${ffmpeg.path}): ${spawnError.message}`, retry: false }, liveMs);
          return;
        }
        if (this.killed.has(child)) {
          this.scheduleRetry(liveMs); // the watchdog already set the reason
          return;
        }
        const stderr = stderrTail.join('\n');
        let problem: StreamProblem;
        if (code === 0 && this.kind === 'file' && this.source.loop === false && !stderr.trim()) {
          problem = { kind: 'ended', reason: 'the file has ended (loop is off)', retry: false };
        } else {
          problem = classifyStderr(stderr, this.context(signal ? null : code));
          // a stream that delivered frames in this run can deliver them again
          if (runFrames > 0 && !problem.retry) problem = { ...problem, retry: true };
        }
        this.log(problem.retry ? 'warn' : 'error', `ffmpeg exited (${signal ?? `code ${code}`}) after ${runFrames} frames: ${problem.reason}`);
        this.ended(problem, liveMs);
      };
    });
  }

  private onFrame(frame: Frame): void {
    const stallMs = this.options.stallTimeoutMs ?? 10_000;
    if (this.watch.state !== 'live') {
      this.liveSince = frame.ts;
      this.retryAt = null;
      this.transition({ type: 'frame' });
      const child = this.child;
      this.armWatchdog(stallMs, () => {
        this.transition({ type: 'no-frames', seconds: Math.round(stallMs / 100) / 10 });
        if (child) {
          this.markKilled(child);
          void stopChild(child);
        }
      });
    } else {
      this.watchdog?.refresh();
    }
    this.framesIn += 1;
    this.lastFrameAt = frame.ts;
    this.rates.add(frame.ts);
    this.seq = frame.seq + 1; // the next ffmpeg run's reader counts on from here
    this.emit('frame', frame);
  }

  private markKilled(child: FfmpegChild): void {
    this.killed.add(child);
  }

  private armWatchdog(ms: number, onTimeout: () => void): void {
    this.clearWatchdog();
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      onTimeout();
    }, ms);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private onStderrLine(line: string, tail: string[]): void {
    if (!line.trim()) return;
    const clean = redactText(line, [this.source.url]);
    tail.push(clean);
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
    const now = Date.now();
    if (now - this.logWindowStart >= 10_000) {
      if (this.logLinesSuppressed > 0) this.log('warn', `ffmpeg: ${this.logLinesSuppressed} more lines not shown`);
      this.logWindowStart = now;
      this.logLinesInWindow = 0;
      this.logLinesSuppressed = 0;
    }
    if (this.logLinesInWindow < (this.options.maxLogLinesPer10s ?? 20)) {
      this.logLinesInWindow += 1;
      this.log('warn', `ffmpeg: ${clean}`);
    } else {
      this.logLinesSuppressed += 1;
    }
  }

  /** A probe or an ffmpeg run ended with `problem`: record it, then retry or give up. */
  private ended(problem: StreamProblem, liveMs = 0): void {
    // every reason passes here: the last word on secrets, whatever a rule or an error quoted
    this.transition({ type: 'ended', problem: { ...problem, reason: redactText(problem.reason, [this.source.url]) } });
    if (problem.retry) this.scheduleRetry(liveMs);
    else this.retryAt = null;
  }

  private scheduleRetry(liveMs: number): void {
    if (!this.running) return;
    this.failures = failuresAfterRun(this.failures, liveMs, this.backoff);
    const delay = backoffDelay(this.failures, this.backoff);
    this.retryAt = Date.now() + delay;
    this.emit('state', this.status());
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = null;
      if (generation !== this.generation || !this.running) return;
      this.launch(generation);
    }, delay);
  }
}

/**
 * How long a stopped ffmpeg's last frames may take to come through the frame pipe worker: they
 * are already in the FIFO, so this only bounds a worker that stopped answering.
 */
const PIPE_DRAIN_MS = 2000;

/** Resolves once a frame pipe reader's stream has ended (every frame emitted), or after PIPE_DRAIN_MS; at once when there is none. */
function untilDrained(drained: Promise<unknown> | null): Promise<void> {
  if (!drained) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, PIPE_DRAIN_MS)));
  return Promise.race([drained.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}
