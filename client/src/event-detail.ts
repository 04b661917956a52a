/**
 * One event in a modal dialog: the frame snapshot (with the box the server drew, green for a
 * named person and amber for an unknown face, as the live view colours them) and the face, the
 * event's facts, and the review: confirm, reject, or relabel to a person of the gallery,
 * optionally adding the face to that person's samples. A refused review shows the server's
 * message and changes nothing. Previous and next (and the arrow keys) step through the list it
 * was opened from.
 */
import { getEvent, reviewEvent, type PublicEvent, type ReviewAction } from './api.js';
import { byId, fillSelect, h } from './dom.js';
import { eventDuration, fullTime, plural } from './format.js';
import { MATCH_SCORE_HINT, formatScore } from './overlay.js';

/** The events shown before and after one in the list, and where it stands ("3 of 30"). */
export interface Neighbours {
  previous: string | null;
  next: string | null;
  position: string;
}

export interface EventDetailHooks {
  /** An event as a review left it. */
  onReviewed: (event: PublicEvent) => void;
  /** The user closed the dialog (Escape, ✕, a click beside it) while it showed event `id`. */
  onClosed: (id: string) => void;
  /** The list's events around `id`. */
  neighbours: (id: string) => Neighbours;
  /** The user asked for event `id` (previous, next): the page opens it. */
  onStep: (id: string) => void;
}

export class EventDetail {
  private readonly dialog = byId('event-detail', HTMLDialogElement);
  private readonly body = byId('event-detail-body', HTMLElement);
  private readonly title = byId('event-detail-title', HTMLElement);
  private people: string[] = [];
  private current: string | null = null;
  /** The event a step asked the page for, until the page opens it (see `step`). */
  private steppingTo: string | null = null;
  /** Set while the dialog is closed from outside (the route changed), which is not the user closing it. */
  private closingQuietly = false;

  constructor(private readonly hooks: EventDetailHooks) {
    byId('event-detail-close', HTMLButtonElement).addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) this.dialog.close(); // the backdrop
    });
    this.dialog.addEventListener('close', () => {
      const closed = this.current;
      this.current = null;
      this.steppingTo = null;
      if (this.closingQuietly) this.closingQuietly = false;
      else if (closed !== null) this.hooks.onClosed(closed);
    });
    // on the document: a step re-renders the body, and the focus may have been on a button it replaced
    document.addEventListener('keydown', (event) => {
      if (!this.dialog.open || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      // the arrows keep their own meaning in a field (a select's choice, a caret)
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement || event.target instanceof HTMLTextAreaElement) return;
      const step = event.key === 'ArrowLeft' ? 'previous' : event.key === 'ArrowRight' ? 'next' : null;
      const from = this.steppingTo ?? this.current;
      if (step === null || from === null) return;
      const to = this.hooks.neighbours(from)[step];
      if (to === null) return;
      event.preventDefault();
      this.step(to);
    });
  }

  /**
   * Asks the page for event `to`. An arrow pressed before the page's route has opened it steps on
   * from `to`: read against the event shown, it asked for `to` again, and the press did nothing
   * (seen in a CI run of the review test).
   */
  private step(to: string): void {
    this.steppingTo = to;
    this.hooks.onStep(to);
  }

  /** The id of the event shown, or null when closed. */
  get eventId(): string | null {
    return this.current;
  }

  /** Shows event `id`: at once from `cached` when the list has it, then as the server has it now. */
  async open(id: string, cached: PublicEvent | null, people: string[]): Promise<void> {
    this.current = id;
    this.steppingTo = null;
    this.people = people;
    if (cached) this.render(cached);
    else {
      this.title.textContent = 'Event';
      this.body.replaceChildren(h('p', { class: 'muted', role: 'status' }, 'Loading the event…'));
    }
    if (!this.dialog.open) this.dialog.showModal();
    const result = await getEvent(id);
    if (this.current !== id) return;
    if (!result.ok) {
      this.body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, result.error));
      return;
    }
    this.render(result.value);
  }

  /** The people offered by "relabel as". */
  setPeople(people: string[]): void {
    this.people = people;
    fillSelect(this.body.querySelector('select[name="relabel"]'), people);
  }

  close(): void {
    if (!this.dialog.open) return;
    this.closingQuietly = true;
    this.dialog.close();
  }

  private render(event: PublicEvent, focus?: string, done = ''): void {
    this.title.textContent = `${event.known ? event.label : 'Unknown face'} on ${event.cameraId}`;
    const frame = event.frameUrl
      ? h('img', { src: event.frameUrl, alt: `The camera frame, with the face boxed (${event.cameraId}, ${fullTime(event.startedAt)})`, 'data-testid': 'event-frame' })
      : h('div', { class: 'no-image' }, 'No frame snapshot (not taken yet, or removed by retention)');
    const face = event.snapshotUrl
      ? h('img', { src: event.snapshotUrl, alt: `The best face of this event, labeled ${event.label}`, 'data-testid': 'event-face' })
      : h('div', { class: 'no-image' }, 'No face snapshot');
    const facts = h(
      'dl',
      { class: 'facts' },
      fact('Label', h('span', { class: `chip ${event.known ? 'known' : 'unknown'}` }, event.label)),
      fact('Best match score', h('span', { title: MATCH_SCORE_HINT }, formatScore(event.score) || '–')),
      fact('Camera', event.cameraId),
      fact('Started', fullTime(event.startedAt)),
      ...(event.endedAt
        ? [fact('Ended', fullTime(event.endedAt)), fact('Lasted', eventDuration(event))]
        : [fact('Now', h('span', { class: 'live-now', 'data-testid': 'event-in-view' }, 'Still in view'))]),
      fact(
        'Seen in',
        h(
          'span',
          { 'data-testid': 'event-frames', title: 'The frames whose face was compared with the gallery: the face is checked again about once a second, not in every frame' },
          `${plural(event.frames, 'frame')} compared with the gallery` + (event.tracks > 1 ? `, ${event.tracks} times in view` : ''),
        ),
      ),
      h('div', {}, h('dt', {}, 'Review'), h('dd', { 'data-testid': 'event-review-state' }, reviewBadge(event.review))),
    );
    // the focus stays on the control it was on (previous, next) when the body is drawn again
    const focused = document.activeElement instanceof HTMLElement && this.body.contains(document.activeElement) ? document.activeElement.dataset.testid : undefined;
    this.body.replaceChildren(
      this.stepper(event.id),
      h('div', { class: 'detail-media' }, h('figure', { class: 'detail-frame' }, frame, ...(event.frameUrl ? [frameLegend()] : [])), h('figure', { class: 'detail-face' }, face)),
      h('div', { class: 'detail-side' }, facts, this.reviewForm(event, done)),
    );
    const refocus = focus ?? focused;
    const target = refocus ? this.body.querySelector<HTMLElement>(`[data-testid="${refocus}"]`) : null;
    if (target && !(target instanceof HTMLButtonElement && target.disabled)) target.focus();
  }

  /** Previous and next: the events above and below this one in the list. */
  private stepper(id: string): HTMLElement {
    const { previous, next, position } = this.hooks.neighbours(id);
    const button = (to: string | null, text: string, label: string, testid: string) => {
      const b = h(
        'button',
        { type: 'button', class: 'button ghost', 'data-testid': testid, 'aria-label': label, title: `${label} (${testid === 'event-previous' ? '←' : '→'})` },
        text,
      );
      b.disabled = to === null;
      if (to !== null) b.addEventListener('click', () => this.step(to));
      return b;
    };
    return h(
      'nav',
      { class: 'detail-steps', 'aria-label': 'Other events of the list' },
      button(previous, '‹ Previous', 'Previous event (newer)', 'event-previous'),
      h('span', { class: 'muted', 'data-testid': 'event-position' }, position),
      button(next, 'Next ›', 'Next event (older)', 'event-next'),
    );
  }

  private reviewForm(event: PublicEvent, doneText: string): HTMLElement {
    const relabel = h('select', { name: 'relabel' }, h('option', { value: '' }, 'Choose a person…'));
    fillSelect(relabel, this.people);
    const addName = h('strong', {});
    const add = h('input', { type: 'checkbox', name: 'addToGallery', 'data-testid': 'review-add-to-gallery' });
    const message = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'review-error' });
    const done = h('p', { class: 'muted', role: 'status', 'data-testid': 'review-done' }, doneText);
    const confirm = h('button', { type: 'button', class: 'button', 'data-testid': 'review-confirm' }, '✓ Confirm');
    const reject = h('button', { type: 'button', class: 'button danger', 'data-testid': 'review-reject' }, '✕ Reject');
    const relabelButton = h('button', { type: 'button', class: 'button ghost', 'data-testid': 'review-relabel' }, 'Relabel');
    const buttons = [confirm, reject, relabelButton];

    // the face goes to the person chosen to relabel as, or else to the person recognised
    const target = (): string | null => relabel.value || (event.known ? event.label : null);
    const showTarget = (): void => {
      const name = target();
      addName.textContent = name ?? 'the chosen person';
      add.disabled = name === null;
      if (add.disabled) add.checked = false;
    };
    relabel.addEventListener('change', showTarget);
    showTarget();

    const send = async (action: ReviewAction, button: HTMLButtonElement): Promise<void> => {
      message.textContent = '';
      done.textContent = '';
      for (const b of buttons) b.disabled = true;
      button.setAttribute('aria-busy', 'true');
      const result = await reviewEvent(event.id, action);
      for (const b of buttons) b.disabled = false;
      button.removeAttribute('aria-busy');
      if (!result.ok) {
        message.textContent = result.error;
        return;
      }
      const updated = { ...event, ...result.value.event };
      this.hooks.onReviewed(updated);
      if (this.current !== event.id) return;
      const added = result.value.added;
      const text = `Marked ${updated.review}.` + (added ? ` The face was added to ${updated.label}'s samples.${added.warnings.length ? ' ' + added.warnings.join(' ') : ''}` : '');
      this.render(updated, button.dataset.testid, text);
    };
    confirm.addEventListener('click', () => void send({ action: 'confirm', ...(add.checked ? { addToGallery: true } : {}) }, confirm));
    reject.addEventListener('click', () => void send({ action: 'reject' }, reject));
    relabelButton.addEventListener('click', () => {
      if (!relabel.value) {
        message.textContent = 'Choose the person this face really is, then press Relabel.';
        relabel.focus();
        return;
      }
      void send({ action: 'relabel', person: relabel.value, ...(add.checked ? { addToGallery: true } : {}) }, relabelButton);
    });

    return h(
      'section',
      { class: 'review', 'aria-label': 'Review this event' },
      h('h3', {}, 'Review'),
      h('div', { class: 'review-actions' }, confirm, reject),
      h('div', { class: 'review-actions' }, h('label', { class: 'relabel' }, h('span', {}, 'Relabel as'), relabel), relabelButton),
      h('label', { class: 'check' }, add, h('span', {}, 'Add this face to ', addName, "'s samples")),
      message,
      done,
    );
  }
}

/** An event's review state as a small badge. */
export function reviewBadge(review: string): HTMLElement {
  return h('span', { class: `review-badge review-${review}`, 'data-testid': 'event-review' }, review);
}

/** What the box on the frame means: the live view's colours, as the face was judged when the frame was taken. */
function frameLegend(): HTMLElement {
  return h(
    'figcaption',
    { class: 'muted frame-legend' },
    'Box as on the live view: ',
    h('span', { class: 'legend-box known', 'aria-hidden': 'true' }),
    'recognised, ',
    h('span', { class: 'legend-box unknown', 'aria-hidden': 'true' }),
    'unknown (when this frame was taken)',
  );
}

function fact(term: string, value: Node | string): HTMLElement {
  return h('div', {}, h('dt', {}, term), h('dd', {}, value));
}
