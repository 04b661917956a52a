/**
 * Unknown groups and their kept faces, on SQLite or PostgreSQL (tables of migration 6). The clustering runs in
 * memory (recognition/unknown-groups.ts); this stores what it holds, in batches, and gives it
 * back at start. A group's row keeps the sum of every face that joined it (its centroid's
 * direction), so clustering carries on after a restart as if it never stopped.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { FaceQuality } from '../common/types.js';
import type { Dialect } from './database.js';
import { fromBlob, toBlob } from './people.repository.js';
import type { Database, UnknownFacesTable, UnknownGroupsTable } from './tables.js';

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

/** The rows of each kind of id `reserveIds` hands out. */
const ID_TABLES = { group: 'unknown_groups', face: 'unknown_faces' } as const;
export type UnknownIdKind = keyof typeof ID_TABLES;

export class UnknownsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  /**
   * `count` ids for new groups or faces that no other connection is given, ever (the clustering
   * names its groups and faces before they are written). From the database's own counters, each
   * taken in one statement, so two nodes sharing a database never get the same id: PostgreSQL's
   * sequence of the identity column (nextval, not max + 1); SQLite's AUTOINCREMENT counter of the
   * table (sqlite_sequence, raised past every id used, also by rows deleted since). Ids reserved
   * and not used are skipped for good.
   */
  async reserveIds(kind: UnknownIdKind, count: number): Promise<number[]> {
    const table = ID_TABLES[kind];
    if (this.dialect === 'postgres') {
      const { rows } = await sql<{ id: number }>`SELECT nextval(pg_get_serial_sequence(${table}, 'id'))::INTEGER AS id FROM generate_series(1, ${count})`.execute(this.db);
      return rows.map((r) => r.id);
    }
    // each a statement of its own, atomic without a transaction (which two connections of one
    // process, interleaving their awaits, would deadlock on SQLite's write lock)
    const highest = sql<number>`(SELECT COALESCE(MAX(id), 0) FROM ${sql.table(table)})`;
    const raise = () =>
      this.db
        .updateTable('sqlite_sequence')
        .set((eb) => ({ seq: eb(eb.case().when('seq', '>', highest).then(eb.ref('seq')).else(highest).end(), '+', count) }))
        .where('name', '=', table)
        .returning('seq')
        .executeTakeFirst();
    let row = await raise();
    if (!row) {
      // the counter's row exists once a row was inserted; before that it starts at 0
      await sql`INSERT INTO sqlite_sequence (name, seq) SELECT ${table}, 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${table})`.execute(this.db);
      row = await raise();
    }
    if (!row) throw new Error(`SQLite keeps no counter for ${table} (sqlite_sequence): is it an AUTOINCREMENT table?`);
    const last = row.seq;
    return Array.from({ length: count }, (_, i) => last - count + 1 + i);
  }

  /** Every group of `model` with its kept faces. */
  async load(model: string): Promise<{ group: StoredUnknownGroup; faces: StoredUnknownFace[] }[]> {
    const groups = await this.db.selectFrom('unknown_groups').selectAll().where('model', '=', model).orderBy('id').execute();
    const faces = await this.db
      .selectFrom('unknown_faces as f')
      .innerJoin('unknown_groups as g', 'g.id', 'f.group_id')
      .selectAll('f')
      .where('g.model', '=', model)
      .orderBy('f.id')
      .execute();
    const byGroup = new Map<number, StoredUnknownFace[]>();
    for (const row of faces) {
      const face = toFace(row);
      byGroup.set(face.groupId, [...(byGroup.get(face.groupId) ?? []), face]);
    }
    return groups.map((row) => ({ group: toGroup(row), faces: byGroup.get(row.id) ?? [] }));
  }

  /** Every crop path a face refers to (relative to the data directory). */
  async cropPaths(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('unknown_faces').select('crop_path').where('crop_path', 'is not', null).execute();
    return new Set(rows.flatMap((r) => (r.crop_path === null ? [] : [r.crop_path])));
  }

  async write(batch: UnknownsBatch): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const g of batch.groups) {
        await trx
          .insertInto('unknown_groups')
          .values({
            id: g.id,
            model: g.model,
            embedding_sum: toBlob(g.sum),
            dim: g.sum.length,
            face_count: g.faceCount,
            cameras: JSON.stringify(g.cameras),
            first_seen: g.firstSeen,
            last_seen: g.lastSeen,
          })
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              embedding_sum: eb.ref('excluded.embedding_sum'),
              face_count: eb.ref('excluded.face_count'),
              cameras: eb.ref('excluded.cameras'),
              first_seen: eb.ref('excluded.first_seen'),
              last_seen: eb.ref('excluded.last_seen'),
            })),
          )
          .execute();
      }
      for (const f of batch.faces) {
        await trx
          .insertInto('unknown_faces')
          .values({
            id: f.id,
            group_id: f.groupId,
            embedding: toBlob(f.vector),
            dim: f.vector.length,
            crop_path: f.cropPath,
            event_id: f.eventId,
            camera_id: f.cameraId,
            ts: f.ts,
            quality: JSON.stringify(f.quality),
            score: f.score,
          })
          .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ group_id: eb.ref('excluded.group_id'), event_id: eb.ref('excluded.event_id') })))
          .execute();
      }
      if (batch.deletedFaces.length > 0) await trx.deleteFrom('unknown_faces').where('id', 'in', batch.deletedFaces).execute();
      // a group's remaining faces go with it (ON DELETE CASCADE)
      if (batch.deletedGroups.length > 0) await trx.deleteFrom('unknown_groups').where('id', 'in', batch.deletedGroups).execute();
    });
  }
}

function toGroup(row: Selectable<UnknownGroupsTable>): StoredUnknownGroup {
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

function toFace(row: Selectable<UnknownFacesTable>): StoredUnknownFace {
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
