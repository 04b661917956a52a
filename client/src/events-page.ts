/**
 * The Events page: the recognition log, newest first, with filters that map onto the query of
 * GET /api/events, endless scroll over its cursor, new events from the `/live` connection's
 * `event` messages, and the detail dialog of an event (#/events/<id>, event-detail.ts), which
 * steps through the rows shown. Rows are grouped under a header per day (this browser's days) and
 * say how long each event lasted; the camera filter offers every camera of the log, removed ones too.
 *
 * New events come in at the top while the top of the list is in view; while the user reads
 * further down they wait behind a "New events (N)" button, so rows never move under the reader.
 * A compact mode (kept in this browser) fits about twice the rows on a screen. An admin selects
 * rows (a checkbox each, shift-click for a range, "select all shown") and confirms, rejects or
 * relabels them at once after one confirmation step (POST /api/events/review).
 */
import type { LiveEventChange } from '../../src/common/live-events.js';
import type { MAX_BULK_REVIEW } from '../../src/contract/events.js';
import {
  eventsCsvUrl,
  getEvent,
  listEventCameras,
  listEvents,
  listPeople,
  reviewEvents,
  type BulkReviewAction,
  type EventCamera,
  type EventFilter,
  type PublicEvent,
  type ReviewState,
  REVIEW_STATES,
} from './api.js';
import { byId, fillSelect, h } from './dom.js';
import { EventDetail, reviewBadge, type Neighbours } from './event-detail.js';
import { dayHeading, eventDuration, fullTime, localDay, localInputToIso, matchesFilter, names, plural, shortTime } from './format.js';
import type { LiveSocket } from './live-page.js';
import { MATCH_SCORE_HINT, formatScore } from './overlay.js';

const PAGE_SIZE = 30;
/** How often at most a live event's row is fetched again, waiting for its snapshot. */
const SNAPSHOT_REFETCH_MS = 1500;
/** The most events one bulk review sends: the server's bound (the bundle cannot load the contract; the type fails the build when the bound changes). */
const BULK_PART: typeof MAX_BULK_REVIEW = 500;
/** Where this browser keeps the compact mode. */
const COMPACT_KEY = 'facestream.events.compact';

/** A bulk review as the buttons ask it, before the ids are added. */
type BulkAction = { action: 'confirm' } | { action: 'reject' } | { action: 'relabel'; person: string };

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
  private readonly detail = new EventDetail({
    onReviewed: (event) => this.onReviewed(event),
    onClosed: (id) => this.onDetailClosed(id),
    neighbours: (id) => this.neighbours(id),
    // a step replaces the route: closing the dialog still goes back to the list in one step
    onStep: (id) => window.location.replace(`#/events/${encodeURIComponent(id)}`),
  });
  private readonly newEvents = h('button', { type: 'button', class: 'button new-events', 'data-testid': 'events-new', hidden: '' });
  private readonly compact = h('input', { type: 'checkbox', 'data-testid': 'events-compact' });
  private readonly selectAll = h('input', { type: 'checkbox', 'data-testid': 'events-select-all' });
  private readonly bulk = new BulkBar(
    (action) => this.sendBulk(action),
    () => this.clearSelection(),
  );
  /** Live events that came in while the list was scrolled away from its top, newest first. */
  private waiting: PublicEvent[] = [];
  /** Ids of the rows selected for a bulk review. */
  private readonly selected = new Set<string>();
  /** The row last checked or unchecked by a click: a shift-click selects from it. */
  private anchor: string | null = null;
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

    this.compact.checked = readCompact();
    this.list.classList.toggle('compact', this.compact.checked);
    this.compact.addEventListener('change', () => {
      this.list.classList.toggle('compact', this.compact.checked);
      writeCompact(this.compact.checked);
    });
    this.selectAll.addEventListener('change', () => this.setAllSelected(this.selectAll.checked));
    this.newEvents.addEventListener('click', () => this.showWaiting());
    this.list.addEventListener('click', (event) => this.onListClick(event));
    const toolbar = h(
      'div',
      { class: 'events-toolbar', 'data-testid': 'events-toolbar' },
      h('label', { class: 'check', 'data-admin-only': '' }, this.selectAll, h('span', {}, 'Select all shown')),
      h('label', { class: 'check' }, this.compact, h('span', {}, 'Compact rows')),
    );
    this.list.before(toolbar, this.newEvents);
    // after the list, held at the bottom of the screen while the list is in view
    this.status.after(this.bulk.element);
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
      // a step to the next event keeps where the dialog was opened from
      if (this.detail.eventId === null) this.openedHere = !entering;
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
    this.waiting = [];
    this.showWaitingCount();
    this.selected.clear();
    this.anchor = null;
    this.bulk.clearResult();
    this.showSelection();
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
    this.showSelection();
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
    const select = h('input', {
      type: 'checkbox',
      class: 'event-select',
      'data-testid': 'event-select',
      'data-admin-only': '',
      'aria-label': `Select ${event.known ? event.label : 'the unknown face'}, ${fullTime(event.startedAt)}`,
    });
    select.checked = this.selected.has(event.id);
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
    element.classList.toggle('selected', select.checked);
    element.replaceChildren(select, link);
  }

  private onLiveEvent(change: LiveEventChange): void {
    if (!this.loaded) return;
    const incoming = change.event;
    const waitingAt = this.waiting.findIndex((e) => e.id === incoming.id);
    if (waitingAt >= 0) {
      this.waiting[waitingAt] = { ...incoming, snapshotUrl: null };
      return;
    }
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
    const event = { ...incoming, snapshotUrl: null };
    if (this.topInView()) this.prepend([event]);
    else {
      this.waiting.unshift(event);
      this.showWaitingCount();
    }
  }

  /** Whether the top of the list is in view (or below it): rows put in there move nothing the user reads. */
  private topInView(): boolean {
    return this.list.getBoundingClientRect().top >= 0;
  }

  /** Puts `events` (newest first) at the top of the list. */
  private prepend(events: PublicEvent[]): void {
    for (const event of [...events].reverse()) {
      const added = this.makeRow(event);
      added.element.classList.add('fresh');
      this.list.prepend(added.element);
    }
    this.placeDayHeaders();
    this.showStatus();
    this.showSelection();
  }

  private showWaitingCount(): void {
    this.newEvents.hidden = this.waiting.length === 0;
    this.newEvents.textContent = `↑ New events (${this.waiting.length})`;
  }

  /** "New events (N)": they go in at the top, and the page scrolls there. */
  private showWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.showWaitingCount();
    this.prepend(waiting);
    window.scrollTo({ top: 0 });
    this.list.querySelector<HTMLElement>('.event-link')?.focus({ preventScroll: true });
  }

  // ---- selection and bulk review

  private onListClick(event: MouseEvent): void {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains('event-select')) return;
    const id = box.closest<HTMLElement>('.event-row')?.dataset.eventId;
    if (!id) return;
    const ids = this.shownIds();
    const from = this.anchor === null ? -1 : ids.indexOf(this.anchor);
    const to = ids.indexOf(id);
    // shift-click: every row from the one clicked before takes this one's new state
    const range = event.shiftKey && from >= 0 ? ids.slice(Math.min(from, to), Math.max(from, to) + 1) : [id];
    for (const each of range) this.setSelected(each, box.checked);
    this.anchor = id;
    this.showSelection();
  }

  private setSelected(id: string, selected: boolean): void {
    const row = this.rows.get(id);
    if (!row) return;
    if (selected) this.selected.add(id);
    else this.selected.delete(id);
    row.element.classList.toggle('selected', selected);
    const box = row.element.querySelector<HTMLInputElement>('.event-select');
    if (box) box.checked = selected;
  }

  private setAllSelected(selected: boolean): void {
    for (const id of this.shownIds()) this.setSelected(id, selected);
    this.showSelection();
  }

  private clearSelection(): void {
    this.setAllSelected(false);
    this.anchor = null;
  }

  private showSelection(): void {
    const shown = this.rows.size;
    const n = this.selected.size;
    this.selectAll.checked = n > 0 && n === shown;
    this.selectAll.indeterminate = n > 0 && n < shown;
    this.bulk.show(n, this.people);
  }

  /** The ids of the rows shown, top to bottom. */
  private shownIds(): string[] {
    return [...this.list.querySelectorAll<HTMLElement>(':scope > .event-row')].map((row) => row.dataset.eventId ?? '').filter((id) => this.rows.has(id));
  }

  /** Reviews the selected rows as `action` asks (in parts the server takes); returns what to tell the user. */
  private async sendBulk(action: BulkAction): Promise<{ done: string; failed: string }> {
    const ids = this.shownIds().filter((id) => this.selected.has(id));
    let reviewed = 0;
    const failed: string[] = [];
    for (let start = 0; start < ids.length; start += BULK_PART) {
      const part = ids.slice(start, start + BULK_PART);
      const body: BulkReviewAction = { ...action, ids: part };
      const result = await reviewEvents(body);
      if (!result.ok) {
        failed.push(`${plural(ids.length - start, 'event')} not reviewed: ${result.error}`);
        break;
      }
      for (const { event } of result.value.reviewed) {
        this.onReviewed(event);
        this.setSelected(event.id, false);
        reviewed++;
      }
      for (const { id, error } of result.value.failed) failed.push(`${id}: ${error}`);
    }
    this.showSelection();
    const verb = action.action === 'confirm' ? 'Confirmed' : action.action === 'reject' ? 'Rejected' : `Relabeled as ${action.person}`;
    return { done: reviewed > 0 ? `${verb}: ${plural(reviewed, 'event')}.` : '', failed: failed.join(' ') };
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
      this.showSelection();
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

  /** The dialog closed by itself (Escape, ✕, a click beside it): leave #/events/<id>, and give the focus back to the event's row. */
  private onDetailClosed(id: string): void {
    if (this.openedHere) history.back();
    else window.location.replace('#/events');
    this.rows.get(id)?.element.querySelector<HTMLElement>('.event-link')?.focus();
  }

  /** The rows before and after event `id` in the list shown, for the dialog's previous and next. */
  private neighbours(id: string): Neighbours {
    const ids = this.shownIds();
    const at = ids.indexOf(id);
    if (at < 0) return { previous: null, next: null, position: '' };
    return { previous: ids[at - 1] ?? null, next: ids[at + 1] ?? null, position: `${at + 1} of ${ids.length}${this.nextCursor ? '+' : ''}` };
  }
}

/**
 * The bar of a bulk review, shown while rows are selected: confirm, reject or relabel them, each
 * asked once more ("Reject 12 events?") before it is sent.
 */
class BulkBar {
  readonly element: HTMLElement;
  private readonly count = h('strong', { 'data-testid': 'bulk-count' });
  private readonly relabel = h(
    'select',
    { name: 'bulk-relabel', 'data-testid': 'bulk-relabel-person', 'aria-label': 'Relabel the selected events as' },
    h('option', { value: '' }, 'Relabel as…'),
  );
  private readonly actions: HTMLElement;
  private readonly question = h('span', { 'data-testid': 'bulk-question' });
  private readonly yes = h('button', { type: 'button', class: 'button', 'data-testid': 'bulk-yes' });
  private readonly asking: HTMLElement;
  private readonly done = h('p', { class: 'muted', role: 'status', 'data-testid': 'bulk-done' });
  private readonly error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'bulk-error' });
  private readonly countLine = h('span', { class: 'bulk-count' }, this.count, ' selected');
  private pending: BulkAction | null = null;
  private selected = 0;
  /** While a review is sent: the rows it unselects do not clear its result. */
  private sending = false;

  constructor(
    private readonly send: (action: BulkAction) => Promise<{ done: string; failed: string }>,
    clear: () => void,
  ) {
    const button = (testid: string, text: string, kind = '') => h('button', { type: 'button', class: `button ${kind}`.trim(), 'data-testid': testid }, text);
    const confirm = button('bulk-confirm', '✓ Confirm');
    const reject = button('bulk-reject', '✕ Reject', 'danger');
    const relabelButton = button('bulk-relabel', 'Relabel', 'ghost');
    const clearButton = button('bulk-clear', 'Clear selection', 'ghost');
    const cancel = button('bulk-cancel', 'Cancel', 'ghost');
    confirm.addEventListener('click', () => this.ask({ action: 'confirm' }));
    reject.addEventListener('click', () => this.ask({ action: 'reject' }));
    relabelButton.addEventListener('click', () => {
      if (!this.relabel.value) {
        this.error.textContent = 'Choose the person these faces really are, then press Relabel.';
        this.relabel.focus();
        return;
      }
      this.ask({ action: 'relabel', person: this.relabel.value });
    });
    clearButton.addEventListener('click', clear);
    cancel.addEventListener('click', () => this.stopAsking());
    this.yes.addEventListener('click', () => void this.go());
    this.actions = h('div', { class: 'bulk-actions' }, confirm, reject, this.relabel, relabelButton, clearButton);
    this.asking = h('div', { class: 'bulk-actions bulk-asking', hidden: '' }, this.question, this.yes, cancel);
    this.element = h(
      'section',
      { class: 'panel bulk-bar', 'data-testid': 'bulk-bar', 'data-admin-only': '', 'aria-label': 'Review the selected events', hidden: '' },
      this.countLine,
      this.actions,
      this.asking,
      this.done,
      this.error,
    );
  }

  /** `selected` rows are selected now; `people` are offered by "relabel as". */
  show(selected: number, people: string[]): void {
    // a result stays in view after its rows were unselected, until the selection changes
    if (selected !== this.selected && !this.sending) this.clearResult();
    this.selected = selected;
    this.count.textContent = String(selected);
    this.countLine.hidden = selected === 0;
    fillSelect(this.relabel, people);
    this.element.hidden = selected === 0 && !this.done.textContent && !this.error.textContent;
    this.actions.hidden = selected === 0 || this.pending !== null;
    if (selected === 0) this.stopAsking();
  }

  /** Forgets the last result (the list was loaded again). */
  clearResult(): void {
    this.done.textContent = '';
    this.error.textContent = '';
    this.element.hidden = this.selected === 0;
  }

  private ask(action: BulkAction): void {
    this.pending = action;
    this.error.textContent = '';
    this.done.textContent = '';
    const events = plural(this.selected, 'event');
    this.question.textContent =
      action.action === 'confirm'
        ? `Confirm ${events} as named?`
        : action.action === 'reject'
          ? `Reject ${events} (the name shown is wrong)?`
          : `Relabel ${events} as ${action.person}?`;
    this.yes.textContent = action.action === 'confirm' ? `Yes, confirm ${events}` : action.action === 'reject' ? `Yes, reject ${events}` : `Yes, relabel ${events}`;
    this.yes.className = `button${action.action === 'reject' ? ' danger' : ''}`;
    this.actions.hidden = true;
    this.asking.hidden = false;
    this.yes.focus();
  }

  private stopAsking(): void {
    this.pending = null;
    this.asking.hidden = true;
    this.actions.hidden = this.selected === 0;
  }

  private async go(): Promise<void> {
    const action = this.pending;
    if (!action) return;
    this.yes.disabled = true;
    this.yes.setAttribute('aria-busy', 'true');
    this.sending = true;
    const { done, failed } = await this.send(action).finally(() => (this.sending = false));
    this.yes.disabled = false;
    this.yes.removeAttribute('aria-busy');
    this.done.textContent = done;
    this.error.textContent = failed;
    this.stopAsking();
    this.element.hidden = this.selected === 0 && !done && !failed;
  }
}

/** The compact mode as this browser keeps it (off where storage is refused). */
function readCompact(): boolean {
  try {
    return localStorage.getItem(COMPACT_KEY) === 'on';
  } catch {
    return false;
  }
}

function writeCompact(on: boolean): void {
  try {
    localStorage.setItem(COMPACT_KEY, on ? 'on' : 'off');
  } catch {
    // storage refused (a private window's quota): the mode lasts while the page is open
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
  return `${who}, camera ${event.cameraId}, ${fullTime(event.startedAt)}, ${event.endedAt ? `lasted ${eventDuration(event)}` : 'still in view'}, best match score ${formatScore(event.score)}, ${event.review}; open the details`;
}
