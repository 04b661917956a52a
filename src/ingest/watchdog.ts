/**
 * The watchdog's decisions for one camera, as pure functions: the state machine (connecting,
 * live, stalled, failed) and the capped exponential backoff between retries. The camera
 * (camera.ts) wires them to its ffmpeg child and its timers.
 */
import type { CameraState } from '../common/live-events.js';
import type { StreamProblem } from './stream-problem.js';

/** A camera's state as the watchdog tracks it. */
export interface WatchState {
  /** `stopped` is the registry's state, never the watchdog's. */
  state: Exclude<CameraState, 'stopped'>;
  reason: string | null;
  /** Has this camera delivered a frame since it was started? Decides connecting vs stalled. */
  everLive: boolean;
}

export type WatchEvent = { type: 'start' } | { type: 'frame' } | { type: 'no-frames'; seconds: number } | { type: 'ended'; problem: StreamProblem };

export const INITIAL_WATCH_STATE: WatchState = { state: 'connecting', reason: null, everLive: false };

/** The watchdog's state machine. Pure. */
export function nextWatchState(current: WatchState, event: WatchEvent): WatchState {
  // A camera that was live and lost its frames is stalled. One that never delivered a frame
  // since it was started has failed, with the reason (a wrong URL, a camera that is off); it
  // is still retried in the background when the error may fix itself (problem.retry).
  const outage = (reason: string): WatchState => ({ state: current.everLive ? 'stalled' : 'failed', reason, everLive: current.everLive });
  switch (event.type) {
    case 'start':
      return { ...INITIAL_WATCH_STATE };
    case 'frame':
      return { state: 'live', reason: null, everLive: true };
    case 'no-frames':
      return outage(`no frames for ${event.seconds} s`);
    case 'ended':
      return event.problem.retry ? outage(event.problem.reason) : { state: 'failed', reason: event.problem.reason, everLive: current.everLive };
  }
}

export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** The delay never grows beyond this. */
  maxMs: number;
  /** Each consecutive failure multiplies the delay by this. */
  factor: number;
  /** A run that stayed live this long counts as healthy: the next failure starts the schedule again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, factor: 2, resetAfterMs: 30_000 };

/** The delay before retry number `failures` (1, 2, 3 …): 1 s, 2 s, 4 s … capped at maxMs. Pure. */
export function backoffDelay(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
}

/**
 * The consecutive-failure count after a run that ended: a run live for at least resetAfterMs
 * starts counting again at 1, any other run adds one. Pure.
 */
export function failuresAfterRun(previousFailures: number, liveMs: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return liveMs >= policy.resetAfterMs ? 1 : previousFailures + 1;
}
