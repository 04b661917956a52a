/**
 * A person's part of the event log, on their page: where and when they were last seen, and a
 * timeline of their visits per day (GET /api/people/:id/history, in this browser's days): one
 * row a day, each visit a mark at its time of day, linked to its event.
 */
import { getPersonHistory, type PersonHistory, type Visit } from './api.js';
import { h } from './dom.js';
import { dayHeading, duration, eventDuration, fullTime, plural, shortTime } from './format.js';

/** Days the timeline shows. */
const HISTORY_DAYS = 14;
const DAY_MINUTES = 24 * 60;
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export class PersonHistoryView {
  readonly element: HTMLElement;
  private readonly lastSeen: HTMLElement;
  private readonly days: HTMLOListElement;
  private readonly note: HTMLElement;
  /** The person the newest request is for: an older answer arriving late is dropped. */
  private personId: number | null = null;

  constructor() {
    this.lastSeen = h('p', { 'data-testid': 'person-last-seen' });
    this.days = h('ol', { class: 'history-days', 'aria-label': `Visits per day, the last ${HISTORY_DAYS} days` });
    this.note = h('p', { class: 'muted', role: 'status' });
    this.element = h(
      'section',
      { class: 'panel person-history', 'data-testid': 'person-history', 'aria-label': 'Seen by the cameras' },
      h('h4', {}, 'Seen by the cameras'),
      this.lastSeen,
      this.days,
      this.note,
    );
  }

  /** Shows person `id`'s history (fetched again at each call, so a visit since shows up). */
  async show(id: number): Promise<void> {
    if (this.personId !== id) {
      this.lastSeen.textContent = 'Loading…';
      this.days.replaceChildren();
      this.note.textContent = '';
    }
    this.personId = id;
    const result = await getPersonHistory(id, HISTORY_DAYS);
    if (this.personId !== id) return;
    if (!result.ok) {
      this.lastSeen.textContent = '';
      this.note.textContent = `The history could not be read: ${result.error}`;
      return;
    }
    this.render(result.value);
  }

  private render(history: PersonHistory): void {
    const last = history.lastSeen;
    if (last) {
      this.lastSeen.replaceChildren(
        'Last seen on ',
        h('strong', { class: 'camera' }, last.cameraId),
        ', ',
        h('a', { href: `#/events/${encodeURIComponent(last.eventId)}`, title: fullTime(last.at) }, h('time', { datetime: last.at }, shortTime(last.at))),
      );
    } else {
      this.lastSeen.textContent = 'Not seen by any camera yet.';
    }
    this.days.replaceChildren(...history.days.map((day) => dayRow(day.date, day.visits)));
    const visits = history.days.reduce((n, day) => n + day.visits.length, 0);
    this.note.textContent = history.truncated
      ? `Only the newest ${plural(visits, 'visit')} are shown.`
      : visits === 0
        ? `No visit in the last ${HISTORY_DAYS} days.`
        : `${plural(visits, 'visit')} in the last ${HISTORY_DAYS} days.`;
  }
}

/** One day: its name, a 24-hour bar with a mark per visit, and the count. */
function dayRow(date: string, visits: Visit[]): HTMLLIElement {
  const bar = h('span', { class: 'history-bar', 'aria-hidden': visits.length === 0 ? 'true' : 'false' }, ...visits.map(visitMark));
  return h(
    'li',
    { class: 'history-day', 'data-testid': 'history-day', 'data-date': date, 'data-visits': String(visits.length) },
    h('span', { class: 'history-date' }, dayHeading(date, { short: true })),
    bar,
    h('span', { class: 'history-count' }, visits.length === 0 ? '–' : plural(visits.length, 'visit')),
  );
}

/** A visit on its day's bar, from its start to its end (or now), linked to its event. */
function visitMark(visit: Visit): HTMLAnchorElement {
  const start = new Date(visit.startedAt);
  const end = visit.endedAt ? new Date(visit.endedAt) : new Date();
  const startMinute = start.getHours() * 60 + start.getMinutes() + start.getSeconds() / 60;
  // a visit past midnight is drawn to the end of its first day
  const minutes = Math.min(DAY_MINUTES - startMinute, Math.max(0, (end.getTime() - start.getTime()) / 60_000));
  const lasted = visit.endedAt ? eventDuration(visit) : `ongoing, ${duration((end.getTime() - start.getTime()) / 1000)} so far`;
  const text = `${visit.cameraId}, ${CLOCK.format(start)} (${lasted})`;
  const mark = h('a', {
    class: 'history-visit',
    href: `#/events/${encodeURIComponent(visit.eventId)}`,
    title: text,
    'aria-label': text,
    'data-testid': 'history-visit',
    'data-event-id': visit.eventId,
  });
  mark.style.left = `${(startMinute / DAY_MINUTES) * 100}%`;
  mark.style.width = `${(minutes / DAY_MINUTES) * 100}%`;
  return mark;
}
