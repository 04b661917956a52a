/** Pure helpers for how events and people read on the pages. */
import type { EventFilter, PublicEvent } from './api.js';

const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const DATE_TIME = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time as the list shows it: the clock time today, the date and time before. */
export function shortTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  const today = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  return today ? TIME.format(date) : DATE_TIME.format(date);
}

export function fullTime(iso: string | null): string {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '–' : FULL.format(date);
}

/** A `<input type="datetime-local">` value (local time) as ISO 8601, or undefined when empty or bad. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * Whether an event (a new one from the live feed) belongs in a list filtered by `filter`.
 * The same rules as the server's query: person is the label, times are the start time.
 */
export function matchesFilter(event: Pick<PublicEvent, 'label' | 'cameraId' | 'known' | 'review' | 'startedAt'>, filter: EventFilter): boolean {
  if (filter.person && event.label !== filter.person) return false;
  if (filter.camera && event.cameraId !== filter.camera) return false;
  if (filter.known && String(event.known) !== filter.known) return false;
  if (filter.review && event.review !== filter.review) return false;
  const started = Date.parse(event.startedAt);
  if (filter.from && !(started >= Date.parse(filter.from))) return false;
  if (filter.to && !(started <= Date.parse(filter.to))) return false;
  return true;
}

/** "1 sample", "3 samples". */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Up to two initials for a person without a face image. */
export function initials(name: string): string {
  const parts = name.split(/[\s_.-]+/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2)).toUpperCase();
}

/** People's names in alphabetical order. */
export function names(people: { name: string }[]): string[] {
  return people.map((p) => p.name).sort((a, b) => a.localeCompare(b));
}

/** Seconds as "3 h 12 min", "4 min", "12 s" (an uptime, a visit). */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long an event lasted ("2 min"), or "still in view" while its track runs. */
export function eventDuration(event: { startedAt: string; endedAt: string | null }): string {
  if (event.endedAt === null) return 'still in view';
  const ms = Date.parse(event.endedAt) - Date.parse(event.startedAt);
  return Number.isFinite(ms) ? duration(Math.max(0, ms) / 1000) : '–';
}

/** The day of a time in this browser's time zone, YYYY-MM-DD (the key the pages group by). */
export function localDay(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

const DAY_NAME = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const SHORT_DAY_NAME = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

/** A YYYY-MM-DD day as a header reads it: "Today", "Yesterday", or the weekday and date (`short`: "Sun, Nov 29", for a narrow column). */
export function dayHeading(day: string, { now = new Date(), short = false }: { now?: Date; short?: boolean } = {}): string {
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(y, m - 1, d);
  if (Number.isNaN(date.getTime())) return day;
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const daysAgo = Math.round((today.getTime() - date.getTime()) / 86_400_000);
  if (daysAgo === 0) return 'Today';
  if (daysAgo === 1) return 'Yesterday';
  return (short ? SHORT_DAY_NAME : DAY_NAME).format(date);
}
