/**
 * What the event log remembers, for the pages: a person's last sighting and their visits per day
 * (in the viewer's days), and every camera the log names, removed cameras included, so the
 * Events page can still filter by a camera that is gone.
 */
import { MAX_HISTORY_VISITS, type EventCameraList, type PersonHistory, type PersonHistoryQuery } from '../contract/history.js';
import type { EventsRepository } from '../storage/events.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

export interface HistoryDeps {
  events: Pick<EventsRepository, 'personVisits' | 'personLastSeen' | 'cameraIds'>;
  /** The person with this id; a ServiceError 'not-found' otherwise (GalleryService.person). */
  person: (id: number) => Promise<{ id: number; name: string }>;
  /** The cameras configured now. */
  cameras: () => { id: string; name: string }[];
  /** Writes events still waiting in the recorder's batch, so a read sees every known event. */
  flush: () => Promise<void>;
  now?: () => number;
}

/** The viewer's date (YYYY-MM-DD) of a time, `utcOffset` minutes ahead of UTC. */
export function localDate(ms: number, utcOffset: number): string {
  return new Date(ms + utcOffset * MINUTE_MS).toISOString().slice(0, 10);
}

/** The first millisecond (UTC) of the viewer's day `days − 1` days before the one `now` falls in. */
export function rangeStart(now: number, days: number, utcOffset: number): number {
  const offset = utcOffset * MINUTE_MS;
  const today = Math.floor((now + offset) / DAY_MS) * DAY_MS;
  return today - (days - 1) * DAY_MS - offset;
}

export class HistoryService {
  private readonly now: () => number;

  constructor(private readonly deps: HistoryDeps) {
    this.now = deps.now ?? Date.now;
  }

  async personHistory(personId: number, { days, utcOffset }: PersonHistoryQuery): Promise<PersonHistory> {
    const person = await this.deps.person(personId);
    await this.deps.flush();
    const now = this.now();
    const from = rangeStart(now, days, utcOffset);
    // one more than shown, to tell whether any were left out
    const events = await this.deps.events.personVisits(person.name, from, MAX_HISTORY_VISITS + 1);
    const byDate = new Map<string, PersonHistory['days'][number]['visits']>();
    for (let day = 0; day < days; day++) byDate.set(localDate(now - day * DAY_MS, utcOffset), []);
    for (const event of events.slice(0, MAX_HISTORY_VISITS)) {
      byDate.get(localDate(event.startedAt, utcOffset))?.push({
        eventId: event.id,
        cameraId: event.cameraId,
        startedAt: new Date(event.startedAt).toISOString(),
        endedAt: event.ended ? new Date(event.endedAt).toISOString() : null,
        score: Math.round(event.score * 1000) / 1000,
      });
    }
    const last = await this.deps.events.personLastSeen(person.name);
    return {
      person: { id: person.id, name: person.name },
      lastSeen: last ? { cameraId: last.cameraId, at: new Date(last.at).toISOString(), eventId: last.eventId } : null,
      days: [...byDate].map(([date, visits]) => ({ date, visits })),
      truncated: events.length > MAX_HISTORY_VISITS,
    };
  }

  /** The cameras of the log and the configured ones, by id; a camera of the log that is no longer configured is `removed`. */
  async eventCameras(): Promise<EventCameraList> {
    await this.deps.flush();
    const configured = new Map(this.deps.cameras().map((c) => [c.id, c.name]));
    const ids = new Set([...(await this.deps.events.cameraIds()), ...configured.keys()]);
    const cameras = [...ids].sort().map((id) => {
      const name = configured.get(id);
      return { id, name: name ?? null, removed: name === undefined };
    });
    return { cameras };
  }
}
