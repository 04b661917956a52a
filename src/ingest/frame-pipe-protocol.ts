/**
 * The messages between the main thread's FramePipe (frame-pipe.ts) and the frame pipe worker
 * (frame-pipe-worker.ts), which reads every camera's ffmpeg output and fills the cameras' frame
 * slots in place.
 */

export type FramePipeRequest =
  /** Read the FIFO at `fifo`, frames of `frameBytes`, into the ring whose slots are `slots` (by index). */
  | { kind: 'open'; reader: number; fifo: string; frameBytes: number; slots: SharedArrayBuffer[] }
  /** Slot `slot` is the reader's to fill with a next frame (granted ahead, in order); -1: read the next frame and drop it (every slot is held). */
  | { kind: 'grant'; reader: number; slot: number }
  /** Stop reading; the slots granted and not filled are given back (answered with 'closed'). */
  | { kind: 'close'; reader: number };

export type FramePipeResponse =
  /** The FIFO is open: the main thread may close its own end of it. */
  | { kind: 'opened'; reader: number }
  /** Slot `slot` holds a whole frame; `ts` is when its last byte arrived. */
  | { kind: 'filled'; reader: number; slot: number; ts: number }
  /** A whole frame was read and dropped, as a grant of -1 asked. */
  | { kind: 'dropped'; reader: number }
  /** The stream ended (ffmpeg closed it, or reading failed: `error`); every frame before it was sent. */
  | { kind: 'ended'; reader: number; error?: string }
  /** After 'close': nothing of the reader's slots is touched any more. */
  | { kind: 'closed'; reader: number };
