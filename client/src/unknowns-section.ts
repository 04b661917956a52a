/**
 * The People page's "Unknown people" section: the groups the cameras' unknown faces formed
 * (from 3 faces on), each with its best face, its counts, cameras and times, and what to do with
 * it: name it (a new person or someone enrolled: its faces join the gallery and its events are
 * relabelled), merge it into another group, or forget it. Built here, under the people list.
 */
import { forgetUnknown, listUnknowns, mergeUnknown, nameUnknown, type UnknownGroupView } from './api.js';
import { h, query } from './dom.js';
import { fullTime, plural, shortTime } from './format.js';

export class UnknownsSection {
  private readonly section: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly status: HTMLElement;
  private readonly error: HTMLElement;
  private readonly count: HTMLElement;

  /** `after`: the element the section follows; `named`: called once a group became a person (the people list changed). */
  constructor(
    after: Element,
    private readonly named: () => void,
  ) {
    this.count = h('span', { class: 'muted', 'data-testid': 'unknowns-count' });
    this.error = h('p', { class: 'form-error', role: 'alert' });
    this.list = h('ul', { class: 'people-grid', 'aria-label': 'Unknown people', 'data-testid': 'unknowns-list' });
    this.status = h('p', { class: 'list-status', role: 'status', 'data-testid': 'unknowns-status' });
    this.section = h(
      'section',
      { 'aria-labelledby': 'unknowns-title', 'data-testid': 'unknowns-section' },
      h('div', { class: 'page-head' }, h('h3', { id: 'unknowns-title' }, 'Unknown people'), this.count),
      this.error,
      this.list,
      this.status,
    );
    after.after(this.section);
  }

  async load(): Promise<void> {
    this.list.setAttribute('aria-busy', 'true');
    const result = await listUnknowns();
    this.list.removeAttribute('aria-busy');
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    const { groups } = result.value;
    this.error.textContent = '';
    this.count.textContent = groups.length ? plural(groups.length, 'group') : '';
    this.list.replaceChildren(...groups.map((g) => this.groupCard(g, groups)));
    if (groups.length === 0 && !this.status.textContent)
      this.status.textContent = 'No unknown faces grouped yet: faces nobody is enrolled for gather here as the cameras see them.';
  }

  private groupCard(group: UnknownGroupView, all: UnknownGroupView[]): HTMLLIElement {
    const label = `Unknown person ${group.id}`;
    const thumbnail = group.thumbnailUrl ? h('img', { class: 'avatar', src: group.thumbnailUrl, alt: label, loading: 'lazy' }) : h('span', { class: 'avatar' }, '?');
    const nameForm = h(
      'form',
      { class: 'inline-form compact', 'aria-label': `Name ${label}` },
      h('input', { name: 'person', required: '', maxlength: '64', placeholder: 'Name', 'aria-label': `Name for ${label}`, 'data-testid': 'unknown-name-input' }),
      h('button', { type: 'submit', class: 'button', 'data-testid': 'unknown-name' }, 'Name'),
    );
    nameForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.name(group, query(nameForm, 'input', HTMLInputElement).value.trim());
    });
    const others = all.filter((g) => g.id !== group.id);
    const select = h(
      'select',
      { 'aria-label': `Merge ${label} into`, 'data-testid': 'unknown-merge-select' },
      ...others.map((g) => h('option', { value: String(g.id) }, `Unknown person ${g.id}`)),
    );
    const merge = h('button', { type: 'button', class: 'button', 'data-testid': 'unknown-merge' }, 'Merge into');
    merge.addEventListener('click', () => void this.merge(group, Number(select.value)));
    const forget = h('button', { type: 'button', class: 'button danger', 'data-testid': 'unknown-forget' }, 'Forget');
    forget.addEventListener('click', () => void this.forget(group));
    return h(
      'li',
      { class: 'panel unknown-group', 'data-testid': 'unknown-group', 'data-group-id': String(group.id) },
      h(
        'div',
        { class: 'inline-form' },
        thumbnail,
        h(
          'div',
          {},
          h('div', { class: 'person-name' }, label),
          h('div', { class: 'muted', 'data-testid': 'unknown-counts' }, `${plural(group.faceCount, 'face')} · ${plural(group.eventCount, 'visit')}`),
          h('div', { class: 'muted' }, group.cameras.join(', ')),
          h('div', { class: 'muted', title: `${fullTime(group.firstSeen)} – ${fullTime(group.lastSeen)}` }, `${shortTime(group.firstSeen)} – ${shortTime(group.lastSeen)}`),
        ),
        nameForm,
        // merging needs another group to merge into
        ...(others.length ? [h('div', { class: 'inline-form compact' }, select, merge)] : []),
        forget,
      ),
    );
  }

  private async name(group: UnknownGroupView, person: string): Promise<void> {
    if (!person) return;
    const result = await nameUnknown(group.id, person);
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    const { person: named, samplesAdded, eventsRelabeled, warnings } = result.value;
    this.status.textContent = `Named ${named.name}: ${plural(samplesAdded, 'face')} added, ${plural(eventsRelabeled, 'event')} relabelled.${warnings.length ? ` ${warnings.join(' ')}` : ''}`;
    // the page reloads its people and this section
    this.named();
  }

  private async merge(group: UnknownGroupView, into: number): Promise<void> {
    if (!Number.isInteger(into)) return;
    const result = await mergeUnknown(group.id, into);
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    this.status.textContent = `Unknown person ${group.id} merged into ${into}.`;
    await this.load();
  }

  private async forget(group: UnknownGroupView): Promise<void> {
    if (!window.confirm(`Forget unknown person ${group.id}? Their ${plural(group.faceCount, 'face')} are deleted; their events stay as unknown.`)) return;
    const result = await forgetUnknown(group.id);
    if (!result.ok) {
      this.error.textContent = result.error;
      return;
    }
    this.status.textContent = `Unknown person ${group.id} forgotten.`;
    await this.load();
  }
}
