/**
 * Who is in view where, and where each person was last seen, derived from the event log's
 * changes alone: an open event is a face in view on its camera, its end is the face leaving.
 * So the MQTT topics say what the event log says. Pure state; mqtt.ts publishes it.
 */

/** The part of an event the view needs (a StoredEvent has it). */
export interface SightedEvent {
  id: string;
  cameraId: string;
  label: string;
  known: boolean;
  score: number;
  /** Last time the face was seen (its end once ended), ms since the epoch. */
  endedAt: number;
  ended: boolean;
}

/** `<prefix>/cameras/<id>/people`: the names in view, the count of strangers, and when that last changed. */
export interface CameraView {
  people: string[];
  unknown: number;
  at: string;
}

/** `<prefix>/people/<name>`: the person's last sighting. */
export interface Sighting {
  cameraId: string;
  at: string;
  score: number;
  eventId: string;
}

export interface AppliedChange {
  /** The camera's view, when it changed. */
  view: CameraView | null;
  /** The person's new last sighting (a known face's event). */
  sighting: { person: string; sighting: Sighting } | null;
  /** Names whose presence may have changed (in view before or after). */
  touched: string[];
}

interface InView {
  label: string;
  known: boolean;
}

const sameView = (a: CameraView | undefined, b: CameraView) => a?.unknown === b.unknown && a.people.join('\u0000') === b.people.join('\u0000');

export class Sightings {
  /** Per camera, its open events. */
  private readonly open = new Map<string, Map<string, InView>>();
  private readonly views = new Map<string, CameraView>();
  private readonly last = new Map<string, Sighting>();

  apply(event: SightedEvent): AppliedChange {
    let events = this.open.get(event.cameraId);
    if (!events) {
      events = new Map();
      this.open.set(event.cameraId, events);
    }
    const before = events.get(event.id);
    if (event.ended) events.delete(event.id);
    else events.set(event.id, { label: event.label, known: event.known });
    const touched = [before, event].flatMap((e) => (e?.known ? [e.label] : []));
    const at = new Date(event.endedAt).toISOString();
    const view = this.viewOf(events, at);
    const changed = !sameView(this.views.get(event.cameraId), view);
    if (changed) this.views.set(event.cameraId, view);
    let sighting: AppliedChange['sighting'] = null;
    if (event.known) {
      const seen: Sighting = { cameraId: event.cameraId, at, score: Math.round(event.score * 1000) / 1000, eventId: event.id };
      this.last.set(event.label, seen);
      sighting = { person: event.label, sighting: seen };
    }
    return { view: changed ? view : null, sighting, touched: [...new Set(touched)] };
  }

  private viewOf(events: Map<string, InView>, at: string): CameraView {
    const names = new Set<string>();
    let unknown = 0;
    for (const face of events.values()) {
      if (face.known) names.add(face.label);
      else unknown++;
    }
    return { people: [...names].sort(), unknown, at };
  }

  /** The camera's view (nobody in view, as of `now`, before its first event). */
  view(cameraId: string, now = Date.now()): CameraView {
    return this.views.get(cameraId) ?? { people: [], unknown: 0, at: new Date(now).toISOString() };
  }

  /** Whether any camera has `name` in view now. */
  inView(name: string): boolean {
    for (const events of this.open.values()) for (const face of events.values()) if (face.known && face.label === name) return true;
    return false;
  }

  lastSighting(name: string): Sighting | undefined {
    return this.last.get(name);
  }

  /** Sets a last sighting known from before this run (the event log's), unless one of this run is newer. */
  remember(name: string, sighting: Sighting): void {
    const current = this.last.get(name);
    if (!current || current.at < sighting.at) this.last.set(name, sighting);
  }

  forgetCamera(cameraId: string): void {
    this.open.delete(cameraId);
    this.views.delete(cameraId);
  }

  forgetPerson(name: string): void {
    this.last.delete(name);
  }
}
