/**
 * Unknown people, grouped, as the live server keeps them: every unknown face a camera sees that
 * passes the enrolment quality gates joins an unknown group (recognition/unknown-groups.ts, in
 * memory), its aligned crop is saved under `<dataDir>/unknowns/`, and what changed is written
 * to the database in batches off the frame loop (a timer flush). The interfaces list the groups,
 * show one, and name, merge or forget it: naming enrols the group's best varied faces for the
 * person (the gallery's quality gates), relabels the group's past events, and reloads the live
 * matcher so the cameras name the person from the next face on.
 *
 * Each track's faces vote for its group (the group most of them joined, or resembled when they
 * were not good enough to join), which the event recorder uses to tell one stranger's visit
 * from another's.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ServiceError } from '../common/errors.js';
import type { TrackSample } from '../common/face-sample.js';
import type { FaceQuality } from '../common/types.js';
import type { NameUnknownResult, UnknownGroupDetail, UnknownGroupList, UnknownGroupView } from '../contract/unknowns.js';
import { cosineSimilarity } from '../embedding/embedder.js';
import { faceScore } from '../events/event-log.js';
import type { EventRecorder } from '../events/recorder.js';
import { DIVERSITY_DEFAULTS, selectDiverse } from '../recognition/diverse-samples.js';
import { alignedCropJpeg, faceProblem } from '../recognition/enrol.js';
import { personNameFrom } from '../recognition/person-name.js';
import { CLUSTERING_DEFAULTS, UnknownGroups, type ClusteringOptions, type GroupChange, type UnknownFace, type UnknownGroup } from '../recognition/unknown-groups.js';
import type { EventsRepository } from '../storage/events.repository.js';
import type { NewSample } from '../storage/people.repository.js';
import type { StoredUnknownFace, UnknownsRepository } from '../storage/unknowns.repository.js';
import type { GalleryService } from './gallery.service.js';

/** The folder of the unknown faces' crops, under the data directory. */
export const UNKNOWNS_DIR = 'unknowns';

/** What the service keeps of a face besides what clustering needs. */
interface FaceRecord {
  cropPath: string | null;
  eventId: string | null;
  quality: FaceQuality;
}

export interface UnknownsDeps {
  repository: UnknownsRepository;
  events: Pick<EventsRepository, 'relabelByGroup' | 'moveToGroup' | 'leaveGroup' | 'countByGroup'>;
  recorder: Pick<EventRecorder, 'flush' | 'flushThen' | 'groupsMerged' | 'groupNamed'>;
  gallery: Pick<GalleryService, 'enrolFaces'>;
  dataDir: string;
  /** The embedder whose faces are grouped (groups of another model are left alone). */
  model: string;
  /** The model's calibrated same-person similarity: a face joins a group from it, and groups this close merge. */
  minSimilarity: number;
  clustering?: Partial<Omit<ClusteringOptions, 'minSimilarity' | 'mergeSimilarity'>>;
  flushEveryMs?: number;
}

/** Enrolment takes at most this many of a named group's faces (the gallery's video path takes as many). */
const MAX_NAMED_SAMPLES = DIVERSITY_DEFAULTS.maxSamples;

const trackKey = (cameraId: string, trackId: number) => `${cameraId}\u0000${trackId}`;

/** Ids reserved at a time, per kind: faces come by the dozen a second from a busy site, groups far fewer. */
const ID_BLOCK = { group: 200, face: 2000 } as const;

/**
 * Ids reserved in the database for the groups or faces this server makes (the clustering names
 * them before they are written), taken one at a time and reserved again, in the background,
 * when half are used. Two servers sharing a database never get the same id.
 */
class ReservedIds {
  private ids: number[] = [];
  private next = 0;
  private reserving: Promise<void> | null = null;

  constructor(
    private readonly reserve: (count: number) => Promise<number[]>,
    private readonly block: number,
    private readonly failed: (error: Error) => void,
  ) {}

  /** Reserves the first block (for the start: a failure to reach the database is the caller's). */
  async fill(): Promise<void> {
    this.ids = await this.reserve(this.block);
    this.next = 0;
  }

  get available(): number {
    return this.ids.length - this.next;
  }

  /** An id, if any is left (they run out only when the database has not answered a whole half block's time). */
  take(): number | undefined {
    if (this.available <= this.block / 2) this.reserveMore();
    if (this.available === 0) return undefined;
    return this.ids[this.next++];
  }

  private reserveMore(): void {
    if (this.reserving) return;
    this.reserving = this.reserve(this.block)
      .then((more) => {
        this.ids = [...this.ids.slice(this.next), ...more];
        this.next = 0;
      })
      .catch((error: unknown) => this.failed(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.reserving = null;
      });
  }
}

export class UnknownsService {
  private readonly groups: UnknownGroups;
  private readonly faces = new Map<number, FaceRecord>();
  /** Per live track: how many of its faces joined each group. */
  private readonly trackGroups = new Map<string, Map<number, number>>();
  /** Per live track: its kept faces that do not know their event yet. */
  private readonly trackFaces = new Map<string, number[]>();
  private readonly faceIds: ReservedIds;
  private readonly groupIds: ReservedIds;
  /** The write in progress and those queued behind it (see flush): settles, never rejects. */
  private writing: Promise<void> = Promise.resolve();
  /** What the next flush writes. */
  private readonly dirtyGroups = new Set<number>();
  private readonly deletedFaces = new Set<number>();
  private readonly deletedGroups = new Set<number>();
  private readonly moves: { from: number; into: number | null }[] = [];
  /** Crop writes in flight, by face id: a removal waits for its face's write. */
  private readonly cropWrites = new Map<number, Promise<void>>();
  /** Crop removals in flight (stop and the requests that remove faces wait for them). */
  private readonly cropRemovals = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private errorHandler: (error: Error) => void = () => undefined;

  /** The service with the groups stored for the model, and ids reserved for the ones it makes. */
  static async open(deps: UnknownsDeps): Promise<UnknownsService> {
    const service = new UnknownsService(deps, await deps.repository.load(deps.model));
    await Promise.all([service.faceIds.fill(), service.groupIds.fill()]);
    return service;
  }

  private constructor(
    private readonly deps: UnknownsDeps,
    stored: Awaited<ReturnType<UnknownsRepository['load']>>,
  ) {
    const reported = (error: Error) => this.errorHandler(new Error(`could not reserve ids for unknown faces: ${error.message}`, { cause: error }));
    this.faceIds = new ReservedIds((n) => deps.repository.reserveIds('face', n), ID_BLOCK.face, reported);
    this.groupIds = new ReservedIds((n) => deps.repository.reserveIds('group', n), ID_BLOCK.group, reported);
    const options = { ...CLUSTERING_DEFAULTS, ...deps.clustering, minSimilarity: deps.minSimilarity, mergeSimilarity: deps.minSimilarity };
    this.groups = new UnknownGroups(options, () => {
      const id = this.groupIds.take();
      // observe() adds a face only while a group id is available
      if (id === undefined) throw new Error('no id reserved for a new unknown group');
      return id;
    });
    this.groups.load(
      stored.map(({ group, faces }) => ({
        ...group,
        faces: faces.map((f) => {
          this.faces.set(f.id, { cropPath: f.cropPath, eventId: f.eventId, quality: f.quality });
          return { id: f.id, vector: f.vector, score: f.score, cameraId: f.cameraId, ts: f.ts };
        }),
      })),
    );
    // a flush reports its own failures
    this.timer = setInterval(() => void this.flush(), deps.flushEveryMs ?? 1000);
    this.timer.unref();
  }

  /** Where a failed crop write or flush is reported (the server keeps running). */
  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }

  /** Removes crops no face refers to (a crash between a crop's write and its row's). */
  async removeOrphanCrops(): Promise<number> {
    const referenced = await this.deps.repository.cropPaths();
    const dir = path.join(this.deps.dataDir, UNKNOWNS_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      if (referenced.has(path.join(UNKNOWNS_DIR, name)) || this.faces.has(Number.parseInt(name, 10))) continue;
      await rm(path.join(dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  /**
   * A scored face of a track: an unknown one that passes the quality gates joins a group; one
   * that does not is only compared with the groups (it shapes none, but it tells whose track
   * this is). Returns the track's group (the one most of its faces joined or resembled), or null.
   */
  observe(sample: TrackSample): number | null {
    const key = trackKey(sample.cameraId, sample.trackId);
    const stranger = !sample.match.known && !(sample.identity.decided && sample.identity.known);
    if (!stranger) return this.groupOfTrack(key);
    let groupId: number | null = null;
    // a face joins only with ids for it and for a group it may start (none only while the database does not answer)
    const faceId = faceProblem({ confidence: sample.detection.confidence, quality: sample.quality }) === undefined && this.groupIds.available > 0 ? this.faceIds.take() : undefined;
    if (faceId !== undefined) {
      const face: UnknownFace = { id: faceId, vector: sample.embedding, score: faceScore(sample.quality), cameraId: sample.cameraId, ts: sample.ts };
      const change = this.groups.add(face);
      this.applied(change);
      if (change.kept) {
        this.keepFace(face, sample);
        this.trackFaces.set(key, [...(this.trackFaces.get(key) ?? []), face.id]);
      }
      groupId = change.groupId;
    } else {
      const near = this.groups.nearest(sample.embedding);
      if (near && near.similarity >= this.deps.minSimilarity) groupId = near.group.id;
    }
    if (groupId !== null) {
      const votes = this.trackGroups.get(key) ?? new Map<number, number>();
      votes.set(groupId, (votes.get(groupId) ?? 0) + 1);
      this.trackGroups.set(key, votes);
    }
    return this.groupOfTrack(key);
  }

  /** The event a track's samples belong to: its faces remember it. */
  linkEvent(cameraId: string, trackId: number, eventId: string | null): void {
    const key = trackKey(cameraId, trackId);
    const waiting = this.trackFaces.get(key);
    if (eventId === null || !waiting) return;
    for (const id of waiting) {
      const face = this.faces.get(id);
      if (face) face.eventId = eventId;
    }
    this.trackFaces.delete(key);
    // the faces are in (one of) the groups the track's faces joined: those are written again
    for (const group of this.trackGroups.get(key)?.keys() ?? []) this.dirtyGroups.add(group);
  }

  trackEnded(cameraId: string, trackId: number): void {
    const key = trackKey(cameraId, trackId);
    this.trackGroups.delete(key);
    this.trackFaces.delete(key);
  }

  private groupOfTrack(key: string): number | null {
    let best: number | null = null;
    let most = 0;
    for (const [group, n] of this.trackGroups.get(key) ?? []) {
      if (n > most) [best, most] = [group, n];
    }
    return best;
  }

  /** A kept face: its crop is written now (the aligned crop is taken from the frame before the slot goes back). */
  private keepFace(face: UnknownFace, sample: TrackSample): void {
    const cropPath = path.join(UNKNOWNS_DIR, `${face.id}.jpg`);
    this.faces.set(face.id, { cropPath, eventId: null, quality: sample.quality });
    // alignedCropJpeg samples the frame synchronously, before its first await: the sample's
    // slot is held only while this listener runs
    const jpeg = alignedCropJpeg(sample.frame, { ...sample.detection, quality: sample.quality, embedding: { model: this.deps.model, vector: sample.embedding } });
    const dir = path.join(this.deps.dataDir, UNKNOWNS_DIR);
    const writing = jpeg
      .then(async (bytes) => {
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(this.deps.dataDir, cropPath), bytes);
      })
      .catch((error: unknown) => {
        const record = this.faces.get(face.id);
        if (record) record.cropPath = null;
        this.errorHandler(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => this.cropWrites.delete(face.id));
    this.cropWrites.set(face.id, writing);
  }

  /** Notes what the clustering changed, for the next flush, and tells the recorder about merges. */
  private applied(change: GroupChange): void {
    this.dirtyGroups.add(change.groupId);
    for (const face of change.droppedFaces) this.dropFace(face.id);
    for (const { from, into } of change.merged) this.moved(from, into);
    for (const group of change.forgotten) this.removed(group);
  }

  private dropFace(id: number): void {
    const record = this.faces.get(id);
    this.faces.delete(id);
    this.deletedFaces.add(id);
    if (record?.cropPath) this.removeCrop(id, record.cropPath);
  }

  private removeCrop(faceId: number, cropPath: string): void {
    const file = path.join(this.deps.dataDir, cropPath);
    const removal: Promise<void> = (this.cropWrites.get(faceId) ?? Promise.resolve())
      .then(() => rm(file, { force: true }))
      .catch((error: unknown) => this.errorHandler(error instanceof Error ? error : new Error(String(error))))
      .finally(() => this.cropRemovals.delete(removal));
    this.cropRemovals.add(removal);
  }

  /** Waits for the crop removals started so far. */
  private async cropsRemoved(): Promise<void> {
    await Promise.all([...this.cropRemovals]);
  }

  /** Group `from` is part of `into` now (or gone: null): tracks, events and the recorder follow. */
  private moved(from: number, into: number | null): void {
    for (const votes of this.trackGroups.values()) {
      const n = votes.get(from);
      if (n === undefined) continue;
      votes.delete(from);
      if (into !== null) votes.set(into, (votes.get(into) ?? 0) + n);
    }
    this.dirtyGroups.delete(from);
    this.deletedGroups.add(from);
    if (into !== null) this.dirtyGroups.add(into);
    this.moves.push({ from, into });
    this.deps.recorder.groupsMerged(from, into);
  }

  /** A group gone from the clustering: its faces and crops go too. */
  private removed(group: UnknownGroup): void {
    for (const face of group.faces) this.dropFace(face.id);
    this.moved(group.id, null);
  }

  /**
   * Writes every change since the last flush in one transaction, then moves the events of merged
   * or forgotten groups (in the recorder's turn: after its writes, so none of them undoes a move).
   * Writes run one after another, each taking what changed when it starts; a failed one is
   * reported and its changes kept for the next. Never rejects.
   */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeChanges()).catch((error: unknown) => this.errorHandler(error instanceof Error ? error : new Error(String(error))));
    return this.writing;
  }

  private async writeChanges(): Promise<void> {
    if (this.dirtyGroups.size + this.deletedFaces.size + this.deletedGroups.size + this.moves.length === 0) return;
    const dirtyGroups = [...this.dirtyGroups];
    const deletedFaces = [...this.deletedFaces];
    const deletedGroups = [...this.deletedGroups];
    const moves = this.moves.splice(0);
    this.dirtyGroups.clear();
    this.deletedFaces.clear();
    this.deletedGroups.clear();
    const groups = dirtyGroups.flatMap((id) => this.groups.get(id) ?? []);
    const faces: StoredUnknownFace[] = groups.flatMap((g) =>
      g.faces.flatMap((f) => {
        const record = this.faces.get(f.id);
        return record
          ? [
              {
                id: f.id,
                groupId: g.id,
                vector: f.vector,
                cropPath: record.cropPath,
                eventId: record.eventId,
                cameraId: f.cameraId,
                ts: f.ts,
                quality: record.quality,
                score: f.score,
              },
            ]
          : [];
      }),
    );
    let written = false;
    try {
      await this.deps.repository.write({
        groups: groups.map((g) => ({ id: g.id, model: this.deps.model, sum: g.sum, faceCount: g.faceCount, cameras: g.cameras, firstSeen: g.firstSeen, lastSeen: g.lastSeen })),
        faces,
        deletedFaces,
        deletedGroups,
      });
      written = true;
      if (moves.length > 0) {
        await this.deps.recorder.flushThen(async () => {
          for (const { from, into } of moves) {
            if (into === null) await this.deps.events.leaveGroup(from);
            else await this.deps.events.moveToGroup(from, into);
          }
        });
      }
    } catch (error) {
      // kept for the next flush (the moves only: the groups and faces are written, or kept too)
      if (!written) {
        for (const id of dirtyGroups) this.dirtyGroups.add(id);
        for (const id of deletedFaces) this.deletedFaces.add(id);
        for (const id of deletedGroups) this.deletedGroups.add(id);
      }
      this.moves.unshift(...moves);
      this.errorHandler(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Groups of enough faces to be shown, the largest first. */
  async list(): Promise<UnknownGroupList> {
    const events = await this.eventCounts();
    return { groups: this.groups.shown().map((g) => this.view(g, events)) };
  }

  async detail(id: number): Promise<UnknownGroupDetail> {
    const group = this.group(id);
    const events = await this.eventCounts();
    const faces = [...group.faces].sort((a, b) => b.score - a.score || a.id - b.id);
    return {
      ...this.view(group, events),
      faces: faces.map((f) => {
        const record = this.faces.get(f.id);
        return {
          id: f.id,
          cameraId: f.cameraId,
          eventId: record?.eventId ?? null,
          seenAt: new Date(f.ts).toISOString(),
          quality: record?.quality ?? { size: 0, sharpness: 0, roll: 0, yaw: 0 },
          imageUrl: record?.cropPath ? `/api/unknowns/${group.id}/faces/${f.id}/image` : null,
        };
      }),
    };
  }

  async faceImage(id: number, faceId: number): Promise<Buffer> {
    const group = this.group(id);
    const record = group.faces.some((f) => f.id === faceId) ? this.faces.get(faceId) : undefined;
    if (!record?.cropPath) throw new ServiceError('not-found', `unknown group ${id} has no face ${faceId} with an image`);
    await this.cropWrites.get(faceId);
    return readFile(path.join(this.deps.dataDir, record.cropPath)).catch(() => {
      throw new ServiceError('not-found', `the image of face ${faceId} of unknown group ${id} is missing`);
    });
  }

  /**
   * Names group `id`: `person` (created when new) gets the group's best varied faces that are
   * close to its centre and pass the quality gates, the group's past events become the person's,
   * and the group is gone. The live matcher names the person from the next face on.
   */
  async name(id: number, person: string): Promise<NameUnknownResult> {
    const name = personNameFrom(person, 'person');
    const group = this.group(id);
    // the group's centre, not its fringe: a face that joined by a narrow margin may be someone else's
    const central = group.faces.filter((f) => cosineSimilarity(f.vector, group.centroid) >= this.deps.minSimilarity);
    const chosen = selectDiverse(
      central.map((f) => ({ face: f, vector: f.vector, time: f.ts / 1000 })),
      { ...DIVERSITY_DEFAULTS, maxSamples: MAX_NAMED_SAMPLES },
    );
    const samples: NewSample[] = [];
    for (const { face } of chosen) {
      const record = this.faces.get(face.id);
      if (!record) continue;
      await this.cropWrites.get(face.id);
      const cropJpeg = record.cropPath ? await readFile(path.join(this.deps.dataDir, record.cropPath)).catch(() => undefined) : undefined;
      samples.push({
        embedding: { model: this.deps.model, vector: face.vector },
        quality: record.quality,
        source: { kind: 'event', ...(record.eventId ? { path: record.eventId } : {}) },
        ...(cropJpeg ? { cropJpeg } : {}),
      });
    }
    if (this.groups.get(id) !== group) throw new ServiceError('conflict', `unknown group ${id} changed while it was being named: try again`);
    const enrolled = await this.deps.gallery.enrolFaces(name, samples);
    await this.flush();
    // in the recorder's turn: the group's events still in its batch are written first, so all
    // are relabelled, and those it holds become the person's before it writes again
    const eventsRelabeled = await this.deps.recorder.flushThen(async () => {
      const relabeled = await this.deps.events.relabelByGroup(id, enrolled.person);
      this.deps.recorder.groupNamed(id, enrolled.person.name);
      return relabeled;
    });
    await this.forgetGroup(group, false);
    await this.cropsRemoved();
    return { person: enrolled.person, samplesAdded: enrolled.samplesAdded, eventsRelabeled, warnings: enrolled.warnings };
  }

  /** A person says groups `id` and `into` are one: `id` merges into `into`. */
  async merge(id: number, into: number): Promise<UnknownGroupDetail> {
    if (id === into) throw new ServiceError('invalid', `into must be another group than ${id}`);
    this.group(id);
    this.group(into);
    const dropped = this.groups.merge(id, into);
    for (const face of dropped) this.dropFace(face.id);
    this.moved(id, into);
    await this.flush();
    return this.detail(into);
  }

  /** Forgets group `id`: its faces and crops go; its events stay unknown, in no group. */
  async forget(id: number): Promise<void> {
    await this.forgetGroup(this.group(id), true);
    await this.cropsRemoved();
  }

  private forgetGroup(group: UnknownGroup, eventsLeave: boolean): Promise<void> {
    this.groups.remove(group.id);
    for (const face of group.faces) this.dropFace(face.id);
    for (const votes of this.trackGroups.values()) votes.delete(group.id);
    this.dirtyGroups.delete(group.id);
    this.deletedGroups.add(group.id);
    if (eventsLeave) {
      this.moves.push({ from: group.id, into: null });
      this.deps.recorder.groupsMerged(group.id, null);
    }
    return this.flush();
  }

  /** Throws the ServiceError 'not-found' when there is no group `id`. */
  requireGroup(id: number): void {
    this.group(id);
  }

  private group(id: number): UnknownGroup {
    const group = this.groups.get(id);
    if (!group) throw new ServiceError('not-found', `no unknown group with id ${id}`);
    return group;
  }

  private async eventCounts(): Promise<Map<number, number>> {
    await this.deps.recorder.flush();
    await this.flush();
    return this.deps.events.countByGroup();
  }

  private view(g: UnknownGroup, events: Map<number, number>): UnknownGroupView {
    const best = [...g.faces].sort((a, b) => b.score - a.score).find((f) => this.faces.get(f.id)?.cropPath);
    return {
      id: g.id,
      faceCount: g.faceCount,
      eventCount: events.get(g.id) ?? 0,
      cameras: Object.entries(g.cameras)
        .sort((a, b) => b[1] - a[1])
        .map(([camera]) => camera),
      firstSeen: new Date(g.firstSeen).toISOString(),
      lastSeen: new Date(g.lastSeen).toISOString(),
      thumbnailUrl: best ? `/api/unknowns/${g.id}/faces/${best.id}/image` : null,
    };
  }

  /** Writes what is left and waits for the crops being written. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.cropWrites.values()]);
    await this.cropsRemoved();
    await this.flush();
  }
}
