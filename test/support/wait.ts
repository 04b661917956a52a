/**
 * Waiting in tests for what the server says, not for time to pass. A test waits for a message
 * (a `/live` `event` or `status`, a `frame`, an emitter's event) or re-checks a condition each
 * time one arrives, and every wait is bounded: past its timeout it fails with what it waited
 * for, never hangs.
 *
 * Polling on a timer (`pollUntil`) is left for effects nobody reports: a file deleted, a child
 * process gone, memory handed back.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io-client';
import type { LiveClientEvents, LiveServerEvents } from '../../src/common/live-events.js';

/** How long a wait lasts unless told otherwise: long enough for a loaded 2-core machine. */
export const WAIT_MS = 10_000;

/** Values to wait on: subscribing hands each value to the listener; the returned function unsubscribes. */
export type Feed<T> = (listener: (value: T) => void) => () => void;

/** What a wait is for, in its timeout message; a function is asked at the timeout (so it can say what it saw). */
export type Waited = string | (() => string);

export type LiveClient = Socket<LiveServerEvents, LiveClientEvents>;
/** The first argument of a `/live` server message (the frame of `frame`, the change of `event`). */
export type LiveMessage<E extends keyof LiveServerEvents> = Parameters<LiveServerEvents[E]>[0];

/** A `/live` client's messages of one kind (a `frame` is not acknowledged here: the test's own listener does that). */
export function messages<E extends keyof LiveServerEvents>(socket: LiveClient, message: E): Feed<LiveMessage<E>> {
  return (listener) => {
    // socket.io-client's typed on() cannot name a listener for a generic message kind
    const handler = listener as unknown as LiveServerEvents[E];
    socket.on(message, handler as never);
    return () => void socket.off(message, handler as never);
  };
}

/** An emitter's events of one name (their first argument). */
export function emitted<T>(emitter: Pick<EventEmitter, 'on' | 'off'>, event: string): Feed<T> {
  return (listener) => {
    const handler = (value: T): void => listener(value);
    emitter.on(event, handler);
    return () => void emitter.off(event, handler);
  };
}

/** Values of several feeds as one (wake on any of them). */
export function either<T>(...feeds: Feed<T>[]): Feed<T> {
  return (listener) => {
    const unsubscribes = feeds.map((feed) => feed(listener));
    return () => unsubscribes.forEach((unsubscribe) => unsubscribe());
  };
}

/** The values of `feed` that `accept` keeps (to wake a check only on the messages that matter). */
export function where<T>(feed: Feed<T>, accept: (value: T) => boolean): Feed<T> {
  return (listener) =>
    feed((value) => {
      if (accept(value)) listener(value);
    });
}

function timeoutError(what: Waited, timeoutMs: number): Error {
  return new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
}

/** Resolves with the first value from `feed` that `accept` keeps (from now on); rejects after `timeoutMs`. */
export function waitFor<T>(feed: Feed<T>, what: Waited, accept: (value: T) => boolean = () => true, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      unsubscribe();
      settle();
    };
    const timer = setTimeout(() => finish(() => reject(timeoutError(what, timeoutMs))), timeoutMs);
    const unsubscribe = feed((value) => {
      try {
        if (accept(value)) finish(() => resolve(value));
      } catch (error) {
        finish(() => reject(error));
      }
    });
  });
}

/** What a check returns while the condition does not hold yet. */
export type NotYet = undefined | false;

/**
 * Resolves with the first value of `check` that is not `NotYet`, asked now and again whenever `wakeups`
 * delivers something (a message saying the state changed: an `event`, a `status`); rejects
 * after `timeoutMs`. Checks never overlap: a wakeup during a check asks again once it is done.
 * Subscribed before the first check, so a change between the check and the subscription is
 * not missed.
 */
export function waitUntil<T>(check: () => T | NotYet | Promise<T | NotYet>, wakeups: Feed<unknown>, what: Waited, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      settle();
    };
    const run = async (): Promise<void> => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const value = await check();
          if (value !== undefined && value !== false) {
            finish(() => resolve(value));
            return;
          }
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a wakeup during the await sets `again` (run() above); TypeScript does not see a closure's assignments and keeps it narrowed to the false set before the await
        } while (again && !done);
      } catch (error) {
        finish(() => reject(error));
      } finally {
        checking = false;
      }
    };
    const timer = setTimeout(() => finish(() => reject(timeoutError(what, timeoutMs))), timeoutMs);
    const unsubscribe = wakeups(() => void run());
    void run();
  });
}

/**
 * Resolves once `check` holds, asked every `everyMs`; rejects after `timeoutMs`. Only for effects
 * no message reports (see the top of this file): where the server says so, wait for that instead.
 */
export async function pollUntil<T>(check: () => T | NotYet | Promise<T | NotYet>, what: Waited, timeoutMs = WAIT_MS, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw timeoutError(what, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
