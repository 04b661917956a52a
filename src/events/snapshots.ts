/**
 * Event snapshots on disk: the best face (the box with a margin, at most 224 px) and a
 * downscaled full frame with the box drawn, as JPEG files under <dataDir>/snapshots/<day>/.
 * The frame snapshot records its face box in its own XMP metadata (the event log keeps no box),
 * so that the copy a viewer is shown can have the face blurred (privacy.blurUnknownForViewers).
 */
import type { Dirent } from 'node:fs';
import { mkdir, readdir, rm, rmdir, stat, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { asDiskFull } from '../common/errors.js';
import type { Box, RgbImage } from '../common/types.js';

export const SNAPSHOTS_DIR = 'snapshots';
const FACE_SIDE = 224;
const FRAME_WIDTH = 640;
/**
 * The box's colour on a frame snapshot, as the live view draws a face (client/styles.css --known
 * and --unknown, the dark theme's: a JPEG cannot follow the page's theme): green for a named
 * person, amber for an unknown face.
 */
export const SNAPSHOT_BOX_COLOURS = { known: '#2fd576', unknown: '#ffb020' } as const;

export interface SavedSnapshot {
  /** Relative to the data directory. */
  facePath: string;
  framePath: string;
  bytes: number;
}

/** The XMP packet of a frame snapshot: where its face is, in the snapshot's own pixels. */
export function faceBoxXmp(box: Box): string {
  const value = box.map((v) => Math.round(v * 10) / 10).join(' ');
  return (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:facestream="https://facestream.invalid/ns/1.0/" facestream:faceBox="${value}"/>` +
    '</rdf:RDF></x:xmpmeta>'
  );
}

/** The face box a frame snapshot records (see faceBoxXmp), or null for one without it (saved by an older facestream). */
export async function snapshotFaceBox(file: string | Buffer): Promise<Box | null> {
  const { xmp } = await sharp(file).metadata();
  const match = xmp && /facestream:faceBox="([^"]*)"/.exec(xmp.toString('utf8'));
  const values = match ? match[1].split(' ').map(Number) : [];
  return values.length === 4 && values.every((v) => Number.isFinite(v) && v >= 0) ? [values[0], values[1], values[2], values[3]] : null;
}

export class SnapshotStore {
  constructor(readonly dataDir: string) {}

  absolute(relative: string): string {
    const resolved = path.resolve(this.dataDir, relative);
    if (!resolved.startsWith(path.resolve(this.dataDir, SNAPSHOTS_DIR) + path.sep)) throw new Error(`snapshot path ${relative} is outside the snapshots folder`);
    return resolved;
  }

  /** Saves the face crop and the frame with the face boxed in the colour of `known` (the event's verdict when the face was taken). */
  async save(eventId: string, frame: RgbImage, box: Box, ts: number, known = true): Promise<SavedSnapshot> {
    const day = new Date(ts).toISOString().slice(0, 10);
    const dir = path.join(SNAPSHOTS_DIR, day);
    await mkdir(path.join(this.dataDir, dir), { recursive: true }).catch((error: unknown) => {
      throw this.named(error);
    });
    const raw = { raw: { width: frame.width, height: frame.height, channels: 3 as const } };
    const [x, y, w, h] = box;
    const margin = 0.3 * Math.max(w, h);
    const left = Math.max(0, Math.floor(x - margin));
    const top = Math.max(0, Math.floor(y - margin));
    const width = Math.max(1, Math.min(frame.width - left, Math.ceil(w + 2 * margin)));
    const height = Math.max(1, Math.min(frame.height - top, Math.ceil(h + 2 * margin)));
    const face = await sharp(frame.data, raw)
      .extract({ left, top, width, height })
      .resize(FACE_SIDE, FACE_SIDE, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 85 })
      .toBuffer();
    const scale = Math.min(1, FRAME_WIDTH / frame.width);
    const outline = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${frame.width}" height="${frame.height}"><rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${known ? SNAPSHOT_BOX_COLOURS.known : SNAPSHOT_BOX_COLOURS.unknown}" stroke-width="${Math.max(2, 3 / scale)}"/></svg>`,
    );
    const boxed = await sharp(frame.data, raw)
      .composite([{ input: outline }])
      .png({ compressionLevel: 0 })
      .toBuffer();
    const full = await sharp(boxed)
      .resize(Math.round(frame.width * scale))
      .jpeg({ quality: 75 })
      .withXmp(faceBoxXmp([x * scale, y * scale, w * scale, h * scale]))
      .toBuffer();
    const facePath = path.join(dir, `${eventId}-face.jpg`);
    const framePath = path.join(dir, `${eventId}-frame.jpg`);
    await this.writeAtomically(facePath, face);
    await this.writeAtomically(framePath, full);
    return { facePath, framePath, bytes: face.length + full.length };
  }

  /**
   * Written under a temporary name and renamed, so a reader never sees half a file. A failed
   * write (a full disk most often: the name is created, the bytes do not fit) removes the
   * temporary file, and a full disk becomes a `disk-full` ServiceError naming the folder.
   */
  private async writeAtomically(relative: string, bytes: Buffer): Promise<void> {
    const target = path.join(this.dataDir, relative);
    try {
      await writeFile(`${target}.tmp`, bytes);
      await rename(`${target}.tmp`, target);
    } catch (error) {
      await rm(`${target}.tmp`, { force: true }).catch(() => {
        // the write's error is the one to report
      });
      throw this.named(error);
    }
  }

  /** A full disk as the `disk-full` ServiceError naming the snapshots folder; others unchanged. */
  private named(error: unknown): unknown {
    return asDiskFull(error, path.join(this.dataDir, SNAPSHOTS_DIR)) ?? error;
  }

  async remove(relative: string | null): Promise<void> {
    if (relative) await rm(this.absolute(relative), { force: true });
  }

  /**
   * Removes what a crash can leave under snapshots/: half-written `.tmp` files, and snapshots
   * whose event was never written (the recorder stores an event's snapshot paths a moment
   * after the files). Run at start, before any camera records, since a snapshot being written
   * is not referenced yet. `referenced` holds the paths events refer to, relative to the data
   * directory. Empty day folders go too. Returns the files removed.
   */
  async removeOrphans(referenced: ReadonlySet<string>): Promise<string[]> {
    const root = path.join(this.dataDir, SNAPSHOTS_DIR);
    let days: string[];
    try {
      days = await readdir(root);
    } catch {
      return []; // no snapshot yet
    }
    const removed: string[] = [];
    for (const day of days) {
      const dir = path.join(SNAPSHOTS_DIR, day);
      let entries: Dirent[];
      try {
        entries = await readdir(path.join(this.dataDir, dir), { withFileTypes: true });
      } catch {
        continue; // not a folder
      }
      for (const entry of entries) {
        const relative = path.join(dir, entry.name);
        if (!entry.isFile() || referenced.has(relative)) continue;
        await rm(path.join(this.dataDir, relative), { force: true });
        removed.push(relative);
      }
      // fails, as it should, while the folder still holds a snapshot
      await rmdir(path.join(this.dataDir, dir)).catch(() => undefined);
    }
    return removed;
  }

  async size(relative: string): Promise<number> {
    return (await stat(this.absolute(relative))).size;
  }
}
