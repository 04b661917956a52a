/**
 * The Events page: the recognition log, newest first, with filters that map onto the query of
 * GET /api/events, endless scroll over its cursor, new events prepended live from the `/live`
 * connection's `event` messages, and the detail dialog of an event (#/events/<id>, event-detail.ts).
 * Rows are grouped under a header per day (this browser's days) and say how long each event
 * lasted; the camera filter offers every camera of the log, removed ones too.
 */
import type { LiveEventChange } from '../../src/common/live-events.js';
import { eventsCsvUrl, getEvent, listEventCameras, listEvents, listPeople, type EventCamera, type EventFilter, type PublicEvent, type ReviewState, REVIEW_STATES } from './api.js';
import { byId, fillSelect, h } from './dom.js';
import { EventDetail, reviewBadge } from './event-detail.js';
import { dayHeading, eventDuration, fullTime, localDay, localInputToIso, matchesFilter, names, shortTime } from './format.js';
import type { LiveSocket } from './live-page.js';
import { MATCH_SCORE_HINT, formatScore } from './overlay.js';

const PAGE_SIZE = 30;
/** How often at most a live event's row is fetched again, waiting for its snapshot. */
const SNAPSHOT_REFETCH_MS = 1500;

interface Row {
  event: PublicEvent;
  element: HTMLLIElement;
  lastFetch: number;
}

export class EventsPage {
  private readonly list = byId('event-list', HTMLUListElement);
  private readonly status = byId('events-status', HTMLElement);
  private readonly error = byId('events-error', HTMLElement);
  private readonly count = byId('events-count', HTMLElement);
  private readonly filters = byId('event-filters', HTMLFormElement);
  private readonly csv = byId('events-csv', HTMLAnchorElement);
  private readonly detail = new EventDetail(
    (event) => this.onReviewed(event),
    () => this.onDetailClosed(),
  );
  private readonly rows = new Map<string, Row>();
  private readonly observer: IntersectionObserver;
  private filter: EventFilter = {};
  private nextCursor: string | null = null;
  private loading = false;
  /** Bumped on every reset, so a page that arrives for an older filter is dropped. */
  private generation = 0;
  private loaded = false;
  private people: string[] = [];
  /** Whether the open detail was opened from the list here (closing it is a step back in history). */
  private openedHere = false;

  constructor(socket: LiveSocket) {
    socket.on('event', (change) => this.onLiveEvent(change));
    socket.on('connect', () => {
      // events may have been missed while disconnected: start again from the newest
      if (this.loaded && !this.list.closest('[hidden]')) this.reset();
    });
    this.filters.addEventListener('change', () => this.applyFilters());
    this.filters.addEventListener('reset', () => setTimeout(() => this.applyFilters(), 0));
    this.filters.addEventListener('submit', (event) => event.preventDefault());
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) void this.loadMore();
      },
      { rootMargin: '0px 0px 600px 0px' },
    );
    this.observer.observe(this.status);
  }

  /** The page is shown: `entering` when it was not shown before; `eventId` opens its detail. */
  show(eventId: string | null, entering: boolean): void {
    if (entering) {
      void this.loadChoices();
      this.reset();
    }
    if (eventId === null) {
      this.detail.close();
      return;
    }
    if (eventId !== this.detail.eventId) {
      this.openedHere = !entering;
      this.openDetail(eventId);
    }
  }

  hide(): void {
    this.detail.close();
  }

  // ---- the list

  private applyFilters(): void {
    const data = new FormData(this.filters);
    const text = (name: string): string => {
      const value = data.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const known = text('known');
    const review = text('review');
    const filter: EventFilter = {};
    if (text('person')) filter.person = text('person');
    if (text('camera')) filter.camera = text('camera');
    if (known === 'true' || known === 'false') filter.known = known;
    if ((REVIEW_STATES as readonly string[]).includes(review)) filter.review = review as ReviewState;
    const from = localInputToIso(text('from'));
    const to = localInputToIso(text('to'));
    if (from) filter.from = from;
    if (to) filter.to = to;
    this.filter = filter;
    this.reset();
  }

  private reset(): void {
    this.generation++;
    this.rows.clear();
    this.list.replaceChildren();
    this.nextCursor = null;
    this.loading = false;
    this.loaded = false;
    this.error.textContent = '';
    this.csv.href = eventsCsvUrl(this.filter);
    this.list.setAttribute('aria-busy', 'true');
    void this.loadMore();
  }

  private async loadMore(): Promise<void> {
    if (this.loading || (this.loaded && this.nextCursor === null)) return;
    this.loading = true;
    const generation = this.generation;
    this.status.textContent = 'Loading events…';
    const result = await listEvents(this.filter, this.nextCursor, PAGE_SIZE);
    if (generation !== this.generation) return;
    this.loading = false;
    this.list.removeAttribute('aria-busy');
    if (!result.ok) {
      this.error.textContent = result.error;
      this.status.textContent = '';
      return;
    }
    this.loaded = true;
    this.nextCursor = result.value.nextCursor;
    for (const event of result.value.events) {
      if (this.rows.has(event.id)) continue;
      const row = this.makeRow(event);
      this.list.append(row.element);
    }
    this.placeDayHeaders();
    this.showStatus();
    if (this.nextCursor !== null) {
      // the sentinel may still be in view (a short page): observing it again reports it at once
      this.observer.unobserve(this.status);
      this.observer.observe(this.status);
    }
  }

  private showStatus(): void {
    const n = this.rows.size;
    const filtered = Object.keys(this.filter).length > 0;
    this.count.textContent = n === 0 ? '' : `${n}${this.nextCursor ? '+' : ''} shown`;
    if (n === 0) this.status.textContent = filtered ? 'No event matches these filters.' : 'No event yet: events appear here when a camera sees a face.';
    else this.status.textContent = this.nextCursor ? 'Scroll for older events…' : 'No older events.';
  }

  private makeRow(event: PublicEvent): Row {
    const element = h('li', { class: 'event-row', 'data-testid': 'event-row', 'data-event-id': event.id });
    const row: Row = { event, element, lastFetch: 0 };
    this.rows.set(event.id, row);
    this.renderRow(row);
    return row;
  }

  private renderRow(row: Row): void {
    const { event, element } = row;
    element.dataset.known = String(event.known);
    element.dataset.review = event.review;
    const thumb = event.snapshotUrl
      ? h('img', { src: event.snapshotUrl, alt: '', width: '56', height: '56', loading: 'lazy', decoding: 'async', 'data-testid': 'event-thumb' })
      : h('span', { class: 'thumb-missing', title: 'no snapshot yet' }, '…');
    const link = h(
      'a',
      { href: `#/events/${encodeURIComponent(event.id)}`, class: 'event-link', 'aria-label': rowSummary(event) },
      h('span', { class: 'thumb' }, thumb),
      h(
        'span',
        { class: 'event-main' },
        h('span', { class: `chip ${event.known ? 'known' : 'unknown'}`, 'data-testid': 'event-label' }, event.label),
        h(
          'span',
          { class: 'event-meta' },
          h('span', { class: 'camera' }, event.cameraId),
          h('time', { datetime: event.startedAt, title: fullTime(event.startedAt) }, shortTime(event.startedAt)),
          h('span', { class: 'duration', 'data-testid': 'event-duration', title: event.endedAt ? `until ${fullTime(event.endedAt)}` : 'still in view' }, eventDuration(event)),
        ),
      ),
      h('span', { class: 'event-score', title: `Of the event's best face. ${MATCH_SCORE_HINT}` }, formatScore(event.score)),
      reviewBadge(event.review),
    );
    element.replaceChildren(link);
  }

  private onLiveEvent(change: LiveEventChange): void {
    if (!this.loaded) return;
    const incoming = change.event;
    const row = this.rows.get(incoming.id);
    if (row) {
      // The live feed speaks for the track (score, end, frames), not for the review: its events
      // always read "pending" with the label first decided, so a reviewed row keeps its own.
      // It carries no snapshot URLs either: the row keeps its own and fetches them when missing.
      const reviewed = row.event.review !== 'pending';
      row.event = {
        ...row.event,
        score: incoming.score,
        endedAt: incoming.endedAt,
        frames: incoming.frames,
        ...(reviewed ? {} : { label: incoming.label, known: incoming.known, person: incoming.person }),
      };
      this.renderRow(row);
      if (!row.event.snapshotUrl) void this.refetch(row);
      return;
    }
    if (change.kind !== 'start' || !matchesFilter(incoming, this.filter)) return;
    const added = this.makeRow({ ...incoming, snapshotUrl: null });
    added.element.classList.add('fresh');
    this.list.prepend(added.element);
    this.placeDayHeaders();
    this.showStatus();
  }

  /** Fetches a row again (for its snapshot), at most every SNAPSHOT_REFETCH_MS. */
  private async refetch(row: Row): Promise<void> {
    const now = Date.now();
    if (now - row.lastFetch < SNAPSHOT_REFETCH_MS) return;
    row.lastFetch = now;
    const result = await getEvent(row.event.id);
    if (!result.ok || this.rows.get(row.event.id) !== row) return;
    row.event = result.value;
    this.renderRow(row);
  }

  /** A header before the first row of each day (newest first, so a row of another day than the one above starts a day). */
  private placeDayHeaders(): void {
    for (const header of this.list.querySelectorAll(':scope > .event-day')) header.remove();
    let previous = '';
    for (const element of [...this.list.children]) {
      const row = this.rows.get((element as HTMLElement).dataset.eventId ?? '');
      if (!row) continue;
      const day = localDay(row.event.startedAt);
      if (day === previous) continue;
      previous = day;
      element.before(h('li', { class: 'event-day', 'data-testid': 'event-day', 'data-day': day, role: 'heading', 'aria-level': '3' }, dayHeading(day)));
    }
  }

  /** The people and cameras offered by the filters (and the relabel choice). */
  private async loadChoices(): Promise<void> {
    const [people, cameras] = await Promise.all([listPeople(), listEventCameras()]);
    if (people.ok) {
      this.people = names(people.value);
      fillSelect(this.filters.elements.namedItem('person'), this.people);
      this.detail.setPeople(this.people);
    }
    if (cameras.ok) fillCameraSelect(this.filters.elements.namedItem('camera'), cameras.value.cameras);
  }

  // ---- the detail dialog (#/events/<id>)

  private openDetail(id: string): void {
    void this.detail.open(id, this.rows.get(id)?.event ?? null, this.people);
    if (this.people.length === 0) {
      void listPeople().then((people) => {
        if (!people.ok) return;
        this.people = names(people.value);
        this.detail.setPeople(this.people);
      });
    }
  }

  /** A review changed an event: its row shows the new state. */
  private onReviewed(event: PublicEvent): void {
    const row = this.rows.get(event.id);
    if (!row) return;
    row.event = { ...row.event, ...event };
    this.renderRow(row);
  }

  /** The dialog closed by itself (Escape, ✕, a click beside it): leave #/events/<id>. */
  private onDetailClosed(): void {
    if (this.openedHere) history.back();
    else window.location.replace('#/events');
  }
}

/**
 * The camera filter's choices after its first ("all cameras"): each camera by its name and id,
 * a removed one marked so, keeping the chosen one when it is still offered.
 */
function fillCameraSelect(select: Element | RadioNodeList | null, cameras: EventCamera[]): void {
  if (!(select instanceof HTMLSelectElement)) return;
  const chosen = select.value;
  const first = select.options.item(0);
  const options = cameras.map((camera) => {
    const name = camera.name && camera.name !== camera.id ? `${camera.name} (${camera.id})` : camera.id;
    return h('option', { value: camera.id, 'data-removed': String(camera.removed) }, camera.removed ? `${name} (removed)` : name);
  });
  select.replaceChildren(...(first ? [first] : []), ...options);
  if (chosen && !cameras.some((c) => c.id === chosen)) select.append(h('option', { value: chosen }, chosen));
  select.value = chosen;
}

function rowSummary(event: PublicEvent): string {
  const who = event.known ? event.label : 'unknown face';
  return `${who}, camera ${event.cameraId}, ${fullTime(event.startedAt)}, ${event.endedAt ? `lasted ${eventDuration(event)}` : 'ongoing'}, best match score ${formatScore(event.score)}, ${event.review}; open the details`;
}
