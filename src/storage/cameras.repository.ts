/**
 * The cameras of a server in SQLite, so that cameras added, changed, switched off or removed at
 * run time are the same after a restart. Each change is one statement, so a crash leaves a
 * camera either as it was or as it was changed, never half of each.
 *
 * Settings are stored as JSON and given back unchecked: the camera registry parses them with the
 * camera schema, which fills in keys added to it since they were written.
 */
import type { CameraOrigin } from '../common/live-events.js';
import type { Db } from './database.js';

export type { CameraOrigin };

export interface StoredCamera {
  id: string;
  /** The settings as last saved (the camera schema's output), not yet validated again. */
  settings: unknown;
  origin: CameraOrigin;
}

interface Row {
  id: string;
  settings: string;
  origin: CameraOrigin;
}

export class CamerasRepository {
  constructor(private readonly db: Db) {}

  /** Every camera, in the order they were first added. */
  list(): StoredCamera[] {
    const rows = this.db.prepare('SELECT id, settings, origin FROM cameras ORDER BY rowid').all() as Row[];
    return rows.map((r) => ({ id: r.id, settings: parseSettings(r.settings), origin: r.origin }));
  }

  /** Adds a camera or replaces its settings and origin (keeping its place in the list). */
  save(camera: { id: string; settings: object; origin: CameraOrigin }): void {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO cameras (id, settings, origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET settings = excluded.settings, origin = excluded.origin, updated_at = excluded.updated_at`,
      )
      .run(camera.id, JSON.stringify(camera.settings), camera.origin, now, now);
  }

  /** Returns whether there was such a camera. */
  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM cameras WHERE id = ?').run(id).changes > 0;
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
