/**
 * Turns the pipeline's scored samples and ended tracks into recognition events: the event log
 * decides, this class copies the best frame, writes snapshots, and stores events in batches
 * off the frame loop (a timer flush). Each write also stores an open event's last-seen time,
 * so that after a crash the next start ends the event there (EventsRepository.closeOpen): a
 * crash loses at most the last second or two of an event.
 */
import { EventEmitter } from 'node:events';
import { ReportThrottle, asDiskFull } from '../common/errors.js';
import { UNKNOWN } from '../common/match.js';
import type { RecognitionEvent } from '../common/recognition-event.js';
import type { TrackSample } from '../common/face-sample.js';
import type { EventsRepository } from '../storage/events.repository.js';
import { EventLog, type EventChange } from './event-log.js';
import type { SnapshotStore } from './snapshots.js';

export type Pending = RecognitionEvent & { facePath?: string | null; framePath?: string | null; snapshotBytes?: number };

/** A change to an event, with its snapshot paths once they exist. */
export type RecordedChange = EventChange & { event: Pending };

export class EventRecorder extends EventEmitter<{ change: [RecordedChange]; error: [Error] }> {
  private readonly log: EventLog;
  private readonly pending = new Map<string, Pending>();
  private readonly snapshotsInFlight = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  /** A full disk fails every new best face and every flush until space returns: one report a minute. */
  private readonly diskFullReports = new ReportThrottle();

  constructor(
    private readonly repository: EventsRepository,
    private readonly snapshots: SnapshotStore,
    matcher: string,
    flushEveryMs = 1000,
  ) {
    super();
    this.log = new EventLog(matcher);
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
  }

  sample(sample: TrackSample): void {
    const change = this.log.sample({
      cameraId: sample.cameraId,
      trackId: sample.trackId,
      ts: sample.ts,
      identity: sample.identity,
      matchLabel: sample.match.known ? sample.match.label : UNKNOWN,
      matchScore: sample.match.score,
      quality: sample.quality,
    });
    if (!change) return;
    this.record(change);
    if (change.newBestFace) {
      // a copy, now: the frame's slot goes back to the camera's reader once the pipeline is done
      // with it, and the snapshot is written later (disk), too long to keep a slot of the ring
      const { width, height } = sample.frame;
      const frame = { data: new Uint8Array(sample.frame.data), width, height };
      const id = change.event.id;
      const saving: Promise<void> = this.snapshots
        .save(id, frame, sample.detection.box, sample.ts)
        .then((saved) => {
          const current = this.pending.get(id) ?? this.repository.get(id);
          if (!current) return;
          const updated: Pending = { ...(current as Pending), ended: current.ended, ...saved, snapshotBytes: saved.bytes };
          this.pending.set(id, updated);
          // viewers learn the snapshot's address as soon as it exists
          this.emit('change', { kind: updated.ended ? 'end' : 'update', event: updated, newBestFace: false });
        })
        .catch((error: Error) => this.report(error))
        .finally(() => {
          this.snapshotsInFlight.delete(saving);
        });
      this.snapshotsInFlight.add(saving);
    }
  }

  trackEnded(cameraId: string, trackId: number, endedAt: number): void {
    const change = this.log.trackEnded(cameraId, trackId, endedAt);
    if (change) this.record(change);
  }

  private record(change: EventChange): void {
    const before = this.pending.get(change.event.id);
    const merged: Pending = { ...before, ...change.event };
    this.pending.set(change.event.id, merged);
    this.emit('change', { ...change, event: merged });
  }

  /** Writes every pending change in one transaction. */
  flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    try {
      this.repository.upsertMany(batch);
    } catch (error) {
      // kept for the next flush: a full disk's events are written once there is room again
      for (const e of batch) if (!this.pending.has(e.id)) this.pending.set(e.id, e);
      this.report(error as Error);
    }
  }

  private report(error: Error): void {
    const full = asDiskFull(error, this.snapshots.dataDir);
    if (!full) return void this.emit('error', error);
    const line = this.diskFullReports.line(full.message);
    if (line) this.emit('error', new Error(line));
  }

  /** Ends open events, waits for snapshots, writes everything. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const change of this.log.endAll(Date.now())) this.record(change);
    await Promise.all([...this.snapshotsInFlight]);
    this.flush();
  }
}
