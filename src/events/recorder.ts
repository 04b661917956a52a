/**
 * Turns the pipeline's scored samples and ended tracks into recognition events: the event log
 * decides, this class copies the best frame, writes snapshots, and stores events in batches
 * off the frame loop (a timer flush). Each write also stores an open event's last-seen time,
 * so that after a crash the next start ends the event there (EventsRepository.closeOpen): a
 * crash loses at most the last second or two of an event.
 *
 * Every change it announces carries the event as viewers should see it (snapshot paths, and a
 * review stored while the track runs, see `reviewed`), from what it holds in memory for each
 * event it may still change: the live feed never reads the database per change.
 */
import { EventEmitter } from 'node:events';
import { ReportThrottle, asDiskFull } from '../common/errors.js';
import { FORGOTTEN, UNKNOWN } from '../common/match.js';
import type { RecognitionEvent } from '../common/recognition-event.js';
import type { TrackSample } from '../common/face-sample.js';
import type { EventWrite, EventsRepository, StoredEvent } from '../storage/events.repository.js';
import { EventLog, type EventChange } from './event-log.js';
import type { SnapshotStore } from './snapshots.js';

/** What a review changed about an event (as EventsRepository.review stored it). */
export type ReviewFields = Pick<StoredEvent, 'review' | 'label' | 'known' | 'reviewedLabel'>;

/**
 * A change to an event as viewers should see it: the event log's latest state, the snapshot
 * paths saved so far, and a review made while the track still runs. Everything a live message
 * needs, so nobody reads the database per change.
 */
export type RecordedChange = EventChange & { event: StoredEvent };

/** An event the recorder may still change or announce: kept until no track can re-open it, it was written, and has no snapshot in flight. */
interface HeldEvent {
  event: RecognitionEvent;
  facePath: string | null;
  framePath: string | null;
  reviewed: ReviewFields | null;
  snapshotsInFlight: number;
  /** The event's last snapshot write: the next one waits for it (both write the same two files). */
  lastSnapshot: Promise<void>;
}

export class EventRecorder extends EventEmitter<{ change: [RecordedChange]; error: [Error] }> {
  private readonly log: EventLog;
  /** What the next flush writes: only the fields that changed since the last one (a re-sent snapshot path would undo retention's). */
  private readonly pending = new Map<string, EventWrite>();
  private readonly held = new Map<string, HeldEvent>();
  /** A write is queued for a new event and has not begun: another new event rides on it. */
  private startWriteQueued = false;
  private readonly snapshotsInFlight = new Set<Promise<void>>();
  /** Held events whose person was forgotten (see `forgotten`): no snapshot of them is kept. */
  private readonly forgottenIds = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  /** The write in progress and those queued behind it (see flush): settles, never rejects. */
  private writing: Promise<void> = Promise.resolve();
  /** A full disk fails every new best face and every flush until space returns: one report a minute. */
  private readonly diskFullReports = new ReportThrottle();

  constructor(
    private readonly repository: EventsRepository,
    private readonly snapshots: SnapshotStore,
    matcher: string,
    flushEveryMs = 1000,
    /** Tracks of one identity on one camera less than this apart are one event (events.mergeGapS), ms. */
    mergeGapMs = 0,
  ) {
    super();
    this.log = new EventLog(matcher, { mergeGapMs });
    // a flush reports its own failures
    this.timer = setInterval(() => void this.flush(), flushEveryMs);
    this.timer.unref();
  }

  /**
   * A scored face of a track; `unknownGroupId` is the unknown group its track's faces joined
   * (null: none, or a known person). Returns the id of the event it belongs to, if it has one.
   */
  sample(sample: TrackSample, unknownGroupId: number | null = null): string | null {
    const change = this.log.sample({
      cameraId: sample.cameraId,
      trackId: sample.trackId,
      ts: sample.ts,
      identity: sample.identity,
      matchLabel: sample.match.known ? sample.match.label : UNKNOWN,
      matchScore: sample.match.score,
      quality: sample.quality,
      unknownGroupId,
    });
    if (!change) return this.log.visitOf(sample.cameraId, sample.trackId);
    const held = this.record(change);
    if (change.newBestFace) this.saveSnapshot(held, sample);
    return change.event.id;
  }

  private saveSnapshot(held: HeldEvent, sample: TrackSample): void {
    const id = held.event.id;
    if (this.forgottenIds.has(id)) return;
    // a copy, now: the frame's slot goes back to the camera's reader once the pipeline is done
    // with it, and the snapshot is written later (disk), too long to keep a slot of the ring
    const { width, height } = sample.frame;
    const frame = { data: new Uint8Array(sample.frame.data), width, height };
    held.snapshotsInFlight++;
    // one write of an event's snapshot at a time, in order: two at once raced for the same
    // temporary file (the later rename found it gone), and the newest best face must land last
    const saving: Promise<void> = held.lastSnapshot
      .then(() => this.snapshots.save(id, frame, sample.detection.box, sample.ts, held.event.known))
      .then(async (saved) => {
        // forgotten while it was being written: it goes at once, and no event refers to it
        if (this.forgottenIds.has(id)) {
          await Promise.all([this.snapshots.remove(saved.facePath), this.snapshots.remove(saved.framePath)]);
          return;
        }
        held.facePath = saved.facePath;
        held.framePath = saved.framePath;
        this.pending.set(id, { ...held.event, ...this.pending.get(id), ...saved, snapshotBytes: saved.bytes });
        // viewers learn the snapshot's address as soon as it exists
        this.emit('change', { kind: held.event.ended ? 'end' : 'update', event: this.shown(held), newBestFace: false });
      })
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.snapshotsInFlight.delete(saving);
        held.snapshotsInFlight--;
        this.release(id);
      });
    this.snapshotsInFlight.add(saving);
    held.lastSnapshot = saving;
  }

  trackEnded(cameraId: string, trackId: number, endedAt: number): void {
    const change = this.log.trackEnded(cameraId, trackId, endedAt);
    if (change) this.record(change);
  }

  /**
   * A review stored while the recorder may still announce the event: its later changes carry
   * it (the event log knows only what the camera saw). Events it no longer holds are left alone.
   */
  reviewed(id: string, fields: ReviewFields): void {
    const held = this.held.get(id);
    if (held) held.reviewed = { review: fields.review, label: fields.label, known: fields.known, reviewedLabel: fields.reviewedLabel };
  }

  /**
   * Events whose person was just forgotten (EventsRepository.forgetPerson, run in flushThen's
   * task, so that no write of theirs with the person's name or snapshots comes between) that the
   * recorder may still change: their later changes show them as FORGOTTEN without snapshots, and
   * no snapshot of them is saved again (one being written now is deleted once written). Returns
   * the snapshot files of theirs that the recorder knew and that may not be stored yet, for the
   * caller to delete with the stored ones.
   */
  forgotten(ids: readonly string[]): string[] {
    const files: string[] = [];
    for (const id of ids) {
      const held = this.held.get(id);
      if (!held) continue;
      this.forgottenIds.add(id);
      for (const file of [held.facePath, held.framePath]) if (file) files.push(file);
      held.facePath = null;
      held.framePath = null;
      held.reviewed = { review: held.reviewed?.review ?? held.event.review, label: FORGOTTEN, known: false, reviewedLabel: null };
      // a snapshot saved since the last write is not written (an update keeps the stored, forgotten, nothing)
      const pending = this.pending.get(id);
      if (pending) this.pending.set(id, { ...pending, facePath: null, framePath: null, snapshotBytes: 0 });
    }
    return files;
  }

  /** Holds the change's event (from now on, or as it now is) and announces it; returns what is held. */
  private record(change: EventChange): HeldEvent {
    const before = this.pending.get(change.event.id);
    this.pending.set(change.event.id, { ...before, ...change.event });
    let held = this.held.get(change.event.id);
    if (held) held.event = change.event;
    else {
      held = { event: change.event, facePath: null, framePath: null, reviewed: null, snapshotsInFlight: 0, lastSnapshot: Promise.resolve() };
      this.held.set(change.event.id, held);
    }
    this.emit('change', { ...change, event: this.shown(held) });
    // a new event is written at once, not at the next flush: a process killed within the
    // second after someone appeared still leaves that visit in the log (the node that takes its
    // camera over ends it); later changes wait for the batch
    if (change.kind === 'start' && !this.startWriteQueued) {
      this.startWriteQueued = true;
      void this.flush();
    }
    return held;
  }

  private shown({ event, facePath, framePath, reviewed }: HeldEvent): StoredEvent {
    return { ...event, facePath, framePath, reviewedLabel: null, ...reviewed };
  }

  /** Forgets an event once nothing about it can change any more. */
  private release(id: string): void {
    const held = this.held.get(id);
    if (held?.event.ended && !this.log.holds(id) && held.snapshotsInFlight === 0 && !this.pending.has(id)) {
      this.held.delete(id);
      this.forgottenIds.delete(id);
    }
  }

  /**
   * Unknown group `from` became part of `into`, or was forgotten (null), as the unknowns
   * service stored it: the events held here follow, so no later write undoes it.
   */
  groupsMerged(from: number, into: number | null): void {
    this.follow(this.log.groupsMerged(from, into));
  }

  /** Unknown group `groupId` was named `label` (its stored events were relabelled): the events held here are that person's too. */
  groupNamed(groupId: number, label: string): void {
    for (const held of this.follow(this.log.groupNamed(groupId, label)))
      this.emit('change', { kind: held.event.ended ? 'end' : 'update', event: this.shown(held), newBestFace: false });
  }

  /** Takes the event log's changed events into what is held and pending; returns the held ones. */
  private follow(events: RecognitionEvent[]): HeldEvent[] {
    const changed: HeldEvent[] = [];
    for (const event of events) {
      const pending = this.pending.get(event.id);
      if (pending) this.pending.set(event.id, { ...pending, label: event.label, known: event.known, unknownGroupId: event.unknownGroupId });
      const held = this.held.get(event.id);
      if (!held) continue;
      held.event = event;
      changed.push(held);
    }
    return changed;
  }

  /**
   * Writes every pending change in one transaction; resolves once it is written (or failed: then
   * reported, and kept for the next flush). Writes run one after another, each taking what is
   * pending when it starts: a change made while a batch is being written goes in the next
   * batch, so no two writes of one event race and none is written out of order.
   */
  flush(): Promise<void> {
    return this.flushThen(() => Promise.resolve());
  }

  /**
   * Writes every pending change, then runs `task` before the recorder writes again: for a write
   * of the events table that must come after the recorder's and not between two of them (a
   * relabel or a move of an unknown group's events, forgetting a person). What the recorder holds
   * may be changed in the task to match (groupNamed, forgotten): its next write carries that.
   * The task must not wait for a later flush: that write waits for the task.
   */
  flushThen<T>(task: () => Promise<T>): Promise<T> {
    const result = this.writing.then(async () => {
      await this.writePending();
      return task();
    });
    this.writing = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Writes what is pending now (one batch); never throws: a failure is reported and the batch kept. */
  private async writePending(): Promise<void> {
    this.startWriteQueued = false;
    // visits no track can re-open any more are let go of
    for (const id of this.log.expire(Date.now())) this.release(id);
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    try {
      await this.repository.upsertMany(batch);
      for (const e of batch) this.release(e.id);
    } catch (error) {
      // kept for the next flush (a full disk's events are written once there is room again);
      // a change made meanwhile is newer, and goes over what the failed batch had
      for (const e of batch) this.pending.set(e.id, { ...e, ...this.pending.get(e.id) });
      this.report(error);
    }
  }

  private report(error: unknown): void {
    const full = asDiskFull(error, this.snapshots.dataDir);
    if (!full) return void this.emit('error', error instanceof Error ? error : new Error(String(error)));
    const line = this.diskFullReports.line(full.message);
    if (line) this.emit('error', new Error(line));
  }

  /** Ends open events, waits for snapshots, writes everything. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const change of this.log.endAll(Date.now())) this.record(change);
    await Promise.all([...this.snapshotsInFlight]);
    await this.flush();
  }
}
