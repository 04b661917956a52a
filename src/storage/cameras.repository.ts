/**
 * The cameras of a server in the database, so that cameras added, changed, switched off or removed at
 * run time are the same after a restart. Each change is one statement, so a crash leaves a
 * camera either as it was or as it was changed, never half of each.
 *
 * Settings are stored as JSON and given back unchecked: the camera registry parses them with the
 * camera schema, which fills in keys added to it since they were written.
 */
import type { Kysely } from 'kysely';
import type { CameraOrigin } from '../common/live-events.js';
import type { Database } from './tables.js';

export type { CameraOrigin };

export interface StoredCamera {
  id: string;
  /** The settings as last saved (the camera schema's output), not yet validated again. */
  settings: unknown;
  origin: CameraOrigin;
}

export class CamerasRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every camera, in the order they were first added. */
  async list(): Promise<StoredCamera[]> {
    const rows = await this.db.selectFrom('cameras').select(['id', 'settings', 'origin']).orderBy('rowid').execute();
    return rows.map((r) => ({ id: r.id, settings: parseSettings(r.settings), origin: r.origin }));
  }

  /** Adds a camera or replaces its settings and origin (keeping its place in the list). */
  async save(camera: { id: string; settings: object; origin: CameraOrigin }): Promise<void> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('cameras')
      .values({ id: camera.id, settings: JSON.stringify(camera.settings), origin: camera.origin, created_at: now, updated_at: now })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({ settings: eb.ref('excluded.settings'), origin: eb.ref('excluded.origin'), updated_at: eb.ref('excluded.updated_at') })),
      )
      .execute();
  }

  /** Returns whether there was such a camera. */
  async remove(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('cameras').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/** Settings that are not JSON any more (edited by hand) come back as null, which the schema refuses by name. */
function parseSettings(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
