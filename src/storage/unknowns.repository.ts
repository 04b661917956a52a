/**
 * Unknown groups and their kept faces in SQLite (tables of migration 6). The clustering runs in
 * memory (recognition/unknown-groups.ts); this stores what it holds, in batches, and gives it
 * back at start. A group's row keeps the sum of every face that joined it (its centroid's
 * direction), so clustering carries on after a restart as if it never stopped.
 */
import type { FaceQuality } from '../common/types.js';
import type { Db } from './database.js';
import { fromBlob, toBlob } from './people.repository.js';

export interface StoredUnknownFace {
  id: number;
  groupId: number;
  vector: Float32Array;
  /** Relative to the data directory; null when none was kept. */
  cropPath: string | null;
  eventId: string | null;
  cameraId: string;
  ts: number;
  quality: FaceQuality;
  /** faceScore of the quality. */
  score: number;
}

export interface StoredUnknownGroup {
  id: number;
  model: string;
  sum: Float32Array;
  faceCount: number;
  cameras: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
}

/** One batch of changes, written in one transaction: groups and faces to write, then faces and groups to delete. */
export interface UnknownsBatch {
  groups: StoredUnknownGroup[];
  faces: StoredUnknownFace[];
  deletedFaces: number[];
  deletedGroups: number[];
}

interface GroupRow {
  id: number;
  model: string;
  embedding_sum: Buffer;
  dim: number;
  face_count: number;
  cameras: string;
  first_seen: number;
  last_seen: number;
}

interface FaceRow {
  id: number;
  group_id: number;
  embedding: Buffer;
  dim: number;
  crop_path: string | null;
  event_id: string | null;
  camera_id: string;
  ts: number;
  quality: string;
  score: number;
}

export class UnknownsRepository {
  constructor(private readonly db: Db) {}

  /** The next free ids: above every id used, also by rows deleted since (SQLite's AUTOINCREMENT sequence). */
  nextIds(): { group: number; face: number } {
    const seq = (table: string) => {
      const row = this.db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined;
      const max = this.db.prepare(`SELECT COALESCE(MAX(id), 0) AS id FROM ${table}`).get() as { id: number };
      return Math.max(row?.seq ?? 0, max.id) + 1;
    };
    return { group: seq('unknown_groups'), face: seq('unknown_faces') };
  }

  /** Every group of `model` with its kept faces. */
  load(model: string): { group: StoredUnknownGroup; faces: StoredUnknownFace[] }[] {
    const groups = this.db.prepare('SELECT * FROM unknown_groups WHERE model = ? ORDER BY id').all(model) as GroupRow[];
    const faces = this.db.prepare('SELECT f.* FROM unknown_faces f JOIN unknown_groups g ON g.id = f.group_id WHERE g.model = ? ORDER BY f.id').all(model) as FaceRow[];
    const byGroup = new Map<number, StoredUnknownFace[]>();
    for (const row of faces) {
      const face = toFace(row);
      byGroup.set(face.groupId, [...(byGroup.get(face.groupId) ?? []), face]);
    }
    return groups.map((row) => ({ group: toGroup(row), faces: byGroup.get(row.id) ?? [] }));
  }

  /** Every crop path a face refers to (relative to the data directory). */
  cropPaths(): Set<string> {
    const rows = this.db.prepare('SELECT crop_path FROM unknown_faces WHERE crop_path IS NOT NULL').pluck().all() as string[];
    return new Set(rows);
  }

  write(batch: UnknownsBatch): void {
    const group = this.db.prepare(`
      INSERT INTO unknown_groups (id, model, embedding_sum, dim, face_count, cameras, first_seen, last_seen)
      VALUES (@id, @model, @sum, @dim, @faceCount, @cameras, @firstSeen, @lastSeen)
      ON CONFLICT(id) DO UPDATE SET embedding_sum = excluded.embedding_sum, face_count = excluded.face_count, cameras = excluded.cameras,
        first_seen = excluded.first_seen, last_seen = excluded.last_seen`);
    const face = this.db.prepare(`
      INSERT INTO unknown_faces (id, group_id, embedding, dim, crop_path, event_id, camera_id, ts, quality, score)
      VALUES (@id, @groupId, @embedding, @dim, @cropPath, @eventId, @cameraId, @ts, @quality, @score)
      ON CONFLICT(id) DO UPDATE SET group_id = excluded.group_id, event_id = excluded.event_id`);
    const deleteFace = this.db.prepare('DELETE FROM unknown_faces WHERE id = ?');
    const deleteGroup = this.db.prepare('DELETE FROM unknown_groups WHERE id = ?');
    this.db.transaction(() => {
      for (const g of batch.groups) {
        group.run({
          id: g.id,
          model: g.model,
          sum: toBlob(g.sum),
          dim: g.sum.length,
          faceCount: g.faceCount,
          cameras: JSON.stringify(g.cameras),
          firstSeen: g.firstSeen,
          lastSeen: g.lastSeen,
        });
      }
      for (const f of batch.faces) {
        face.run({
          id: f.id,
          groupId: f.groupId,
          embedding: toBlob(f.vector),
          dim: f.vector.length,
          cropPath: f.cropPath,
          eventId: f.eventId,
          cameraId: f.cameraId,
          ts: f.ts,
          quality: JSON.stringify(f.quality),
          score: f.score,
        });
      }
      for (const id of batch.deletedFaces) deleteFace.run(id);
      // a group's remaining faces go with it (ON DELETE CASCADE)
      for (const id of batch.deletedGroups) deleteGroup.run(id);
    })();
  }
}

function toGroup(row: GroupRow): StoredUnknownGroup {
  return {
    id: row.id,
    model: row.model,
    sum: fromBlob(row.embedding_sum, row.dim),
    faceCount: row.face_count,
    cameras: JSON.parse(row.cameras) as Record<string, number>,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
  };
}

function toFace(row: FaceRow): StoredUnknownFace {
  return {
    id: row.id,
    groupId: row.group_id,
    vector: fromBlob(row.embedding, row.dim),
    cropPath: row.crop_path,
    eventId: row.event_id,
    cameraId: row.camera_id,
    ts: row.ts,
    quality: JSON.parse(row.quality) as FaceQuality,
    score: row.score,
  };
}
