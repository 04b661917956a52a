/**
 * The People page: the gallery's people with their sample counts and a face each, a form to add
 * one, and a person's page (#/people/<id>) to rename or delete them, see and remove their face
 * samples, and upload photos (chosen or dropped) with a progress bar and a result per file. A
 * photo with several faces shows them to pick the one to enrol; a video enrols through the
 * server's scan (VideoEnrolView); a look-alike warning offers its next steps.
 */
import {
  createPerson,
  deleteFace,
  deletePerson,
  forgetPerson,
  getPerson,
  listPeople,
  renamePerson,
  uploadFaces,
  type EnrolResult,
  type FacePick,
  type FaceUploadReport,
  type Person,
  type PersonDetail,
} from './api.js';
import type { FaceQuality } from '../../src/common/types.js';
import { byId, h, query } from './dom.js';
import { makeDropZone } from './drop.js';
import { facePicker, lookAlikeNotice } from './enrol-widgets.js';
import { initials, plural } from './format.js';
import { PersonHistoryView } from './person-history.js';
import { UnknownsSection } from './unknowns-section.js';
import { VideoEnrolView } from './video-enrol.js';

export class PeoplePage {
  private readonly listView = byId('people-list-view', HTMLElement);
  private readonly list = byId('people-list', HTMLUListElement);
  private readonly listStatus = byId('people-status', HTMLElement);
  private readonly listError = byId('people-error', HTMLElement);
  private readonly count = byId('people-count', HTMLElement);
  private readonly createForm = byId('person-create', HTMLFormElement);
  private readonly personView = byId('person-view', HTMLElement);
  private readonly face = byId('person-face', HTMLElement);
  private readonly name = byId('person-name', HTMLElement);
  private readonly samples = byId('person-samples', HTMLElement);
  private readonly renameForm = byId('person-rename', HTMLFormElement);
  private readonly personError = byId('person-error', HTMLElement);
  private readonly input = byId('person-upload', HTMLInputElement);
  private readonly progress = byId('person-progress', HTMLProgressElement);
  private readonly uploadStatus = byId('person-upload-status', HTMLElement);
  private readonly warnings = byId('person-warnings', HTMLUListElement);
  private readonly results = byId('person-results', HTMLUListElement);
  private readonly faces = byId('person-faces', HTMLUListElement);
  /** Their last sighting and visits per day, under their name. */
  private readonly history = new PersonHistoryView();
  private person: PersonDetail | null = null;
  private personId: number | null = null;
  private uploading = false;
  /** The photos of the last upload, by their name in its report: a group photo's faces are cut from them, and it is sent again with a pick. */
  private uploaded = new Map<string, File>();
  private readonly video = new VideoEnrolView((result) => this.added(result));
  private readonly unknowns = new UnknownsSection(this.listStatus, () => void this.loadList());

  constructor() {
    this.createForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.renameForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.rename();
    });
    byId('person-delete', HTMLButtonElement).addEventListener('click', () => void this.remove());
    byId('person-forget', HTMLButtonElement).addEventListener('click', () => void this.forget());
    makeDropZone(byId('person-drop', HTMLElement), this.input, (files) => void this.upload(files));
    query(this.personView, '.person-head', HTMLElement).after(this.history.element);
    byId('person-drop', HTMLElement).after(this.video.element);
  }

  show(personId: number | null, entering: boolean): void {
    this.listView.hidden = personId !== null;
    this.personView.hidden = personId === null;
    if (personId === null) {
      this.personId = null;
      void this.loadList();
      return;
    }
    if (personId !== this.personId) {
      this.personId = personId;
      this.person = null;
      this.clearUpload();
      this.name.textContent = 'Loading…';
      this.samples.textContent = '';
      this.faces.replaceChildren();
      this.face.replaceChildren();
      this.personError.textContent = '';
      if (!entering) this.name.focus({ preventScroll: true });
    }
    this.video.show(personId);
    void this.loadPerson(personId);
    void this.history.show(personId);
  }

  // ---- the list

  private async loadList(): Promise<void> {
    void this.unknowns.load();
    this.list.setAttribute('aria-busy', 'true');
    const result = await listPeople();
    this.list.removeAttribute('aria-busy');
    if (!result.ok) {
      this.listError.textContent = result.error;
      return;
    }
    this.listError.textContent = '';
    const people = [...result.value].sort((a, b) => a.name.localeCompare(b.name));
    this.list.replaceChildren(...people.map(personRow));
    this.count.textContent = people.length ? plural(people.length, 'person').replace(/persons$/, 'people') : '';
    this.listStatus.textContent = people.length ? '' : 'No one in the gallery yet. Add a person, then upload a few photos of their face.';
  }

  private async create(): Promise<void> {
    const input = this.createForm.elements.namedItem('name') as HTMLInputElement;
    const error = query(this.createForm, '.form-error', HTMLElement);
    const button = query(this.createForm, 'button', HTMLButtonElement);
    error.textContent = '';
    button.disabled = true;
    const result = await createPerson(input.value.trim());
    button.disabled = false;
    if (!result.ok) {
      error.textContent = result.error;
      input.focus();
      return;
    }
    this.createForm.reset();
    // next, photos of the new person's face
    window.location.hash = `#/people/${result.value.id}`;
  }

  // ---- one person

  private async loadPerson(id: number): Promise<void> {
    const result = await getPerson(id);
    if (this.personId !== id) return;
    if (!result.ok) {
      this.name.textContent = 'Not found';
      this.personError.textContent = result.error;
      return;
    }
    this.person = result.value;
    this.renderPerson(result.value);
  }

  private renderPerson(person: PersonDetail): void {
    this.name.textContent = person.name;
    this.samples.textContent = plural(person.samples, 'sample');
    this.face.replaceChildren(avatar(person));
    const renameInput = this.renameForm.elements.namedItem('name') as HTMLInputElement;
    if (document.activeElement !== renameInput) renameInput.value = person.name;
    this.faces.replaceChildren(
      ...person.faces.map((face) => {
        const remove = h(
          'button',
          { type: 'button', class: 'icon-button', 'aria-label': `Remove sample ${face.id}`, title: 'Remove this sample', 'data-testid': 'face-remove' },
          '✕',
        );
        remove.addEventListener('click', () => void this.removeFace(face.id));
        const image = face.imageUrl
          ? h('img', { src: face.imageUrl, alt: `Sample ${face.id} of ${person.name}`, loading: 'lazy' })
          : h('span', { class: 'avatar' }, initials(person.name));
        return h(
          'li',
          { class: 'face-sample', 'data-testid': 'face-sample', 'data-face-id': String(face.id) },
          image,
          h('span', { class: 'face-meta' }, h('span', { title: qualityText(face.quality) }, `${Math.round(face.quality.size)} px`), h('span', { class: 'muted' }, face.source)),
          remove,
        );
      }),
    );
    if (person.faces.length === 0) this.faces.append(h('li', { class: 'muted empty-line' }, 'No samples yet: add photos above.'));
  }

  private async rename(): Promise<void> {
    if (!this.person) return;
    const input = this.renameForm.elements.namedItem('name') as HTMLInputElement;
    this.personError.textContent = '';
    const result = await renamePerson(this.person.id, input.value.trim());
    if (!result.ok) {
      this.personError.textContent = result.error;
      return;
    }
    input.blur();
    await this.loadPerson(this.person.id);
  }

  private async remove(): Promise<void> {
    const person = this.person;
    if (!person) return;
    if (!window.confirm(`Delete ${person.name} and their ${plural(person.samples, 'face sample')}? Events keep their label.`)) return;
    const result = await deletePerson(person.id);
    if (!result.ok) {
      this.personError.textContent = result.error;
      return;
    }
    window.location.hash = '#/people';
  }

  private async forget(): Promise<void> {
    const person = this.person;
    if (!person) return;
    const what = `their ${plural(person.samples, 'face sample')}, and the name and snapshots of every event that named them (the events stay, as "forgotten")`;
    if (!window.confirm(`Forget ${person.name} everywhere? This deletes ${person.name}, ${what}. It cannot be undone.`)) return;
    const result = await forgetPerson(person.id);
    if (!result.ok) {
      this.personError.textContent = result.error;
      return;
    }
    window.location.hash = '#/people';
  }

  private async removeFace(faceId: number): Promise<void> {
    const person = this.person;
    if (!person) return;
    if (!window.confirm(`Remove this face sample from ${person.name}?`)) return;
    const result = await deleteFace(person.id, faceId);
    if (!result.ok) {
      this.personError.textContent = result.error;
      return;
    }
    await this.loadPerson(person.id);
  }

  // ---- uploads

  private clearUpload(): void {
    this.results.replaceChildren();
    this.warnings.replaceChildren();
    this.uploadStatus.textContent = '';
    this.progress.hidden = true;
  }

  /** `picks`: which face to enrol from photos with several (a face picked from a refusal). */
  private async upload(files: File[], picks: FacePick[] = []): Promise<void> {
    const person = this.person;
    if (!person || this.uploading) return;
    this.uploaded = new Map(files.map((file) => [file.name, file]));
    this.uploading = true;
    this.input.disabled = true;
    this.clearUpload();
    this.progress.hidden = false;
    this.progress.value = 0;
    this.uploadStatus.textContent = `Uploading ${plural(files.length, 'photo')}…`;
    const result = await uploadFaces(
      person.id,
      files,
      (fraction) => {
        this.progress.value = fraction;
        if (fraction >= 1) this.uploadStatus.textContent = `Looking for faces in ${plural(files.length, 'photo')}…`;
      },
      picks,
    );
    this.uploading = false;
    this.input.disabled = false;
    this.progress.hidden = true;
    if (this.personId !== person.id) return;
    if (!result.ok) {
      this.uploadStatus.textContent = '';
      this.results.replaceChildren(
        h(
          'li',
          { class: 'upload-result rejected', 'data-testid': 'upload-result', 'data-accepted': 'false', role: 'alert' },
          h('span', { class: 'mark', 'aria-hidden': 'true' }, '✕'),
          result.error,
        ),
      );
      return;
    }
    this.showReport(result.value);
    await this.loadPerson(person.id);
  }

  private showReport(report: FaceUploadReport): void {
    const accepted = report.results.filter((r) => r.accepted).length;
    this.uploadStatus.textContent = `${accepted} of ${plural(report.results.length, 'photo')} accepted.`;
    this.results.replaceChildren(
      ...report.results.map((r) => {
        const file = this.uploaded.get(r.file);
        const several = !r.accepted && r.faces && r.faces.length > 1 && file;
        return h(
          'li',
          { class: `upload-result ${r.accepted ? 'accepted' : 'rejected'}`, 'data-testid': 'upload-result', 'data-accepted': String(r.accepted), 'data-file': r.file },
          h('span', { class: 'mark', 'aria-hidden': 'true' }, r.accepted ? '✓' : '✕'),
          h('span', { class: 'file' }, r.file),
          h(
            'span',
            { class: 'why' },
            r.accepted ? 'accepted' : several ? `${plural(r.faces?.length ?? 0, 'face')} found: choose the one to enrol` : `not added: ${r.reason ?? 'refused'}`,
          ),
          ...(several && r.faces ? [facePicker(file, r.faces, (face) => void this.upload([file], [{ file: 0, face }]))] : []),
        );
      }),
    );
    const sampleIds = report.results.flatMap((r) => (r.accepted && r.faceId !== undefined ? [r.faceId] : []));
    this.showLookAlikes({ person: report.person, sampleIds, lookAlikes: report.lookAlikes, warnings: report.warnings });
  }

  /** Faces added from a video: the samples shown again, and any look-alike. */
  private added(result: EnrolResult): void {
    this.results.replaceChildren();
    this.showLookAlikes(result);
    if (this.personId === result.person.id) void this.loadPerson(result.person.id);
  }

  private showLookAlikes(result: EnrolResult): void {
    const added = { personId: result.person.id, sampleIds: result.sampleIds };
    this.warnings.replaceChildren(
      ...result.lookAlikes.map((lookAlike) =>
        lookAlikeNotice(lookAlike, added, () => {
          this.uploadStatus.textContent = `The ${plural(added.sampleIds.length, 'new face')} of ${lookAlike.person} ${added.sampleIds.length === 1 ? 'was' : 'were'} removed.`;
          this.results.replaceChildren();
          if (this.personId === added.personId) void this.loadPerson(added.personId);
        }),
      ),
    );
  }
}

function qualityText(quality: FaceQuality): string {
  return `face ${Math.round(quality.size)} px, sharpness ${Math.round(quality.sharpness)}, roll ${Math.round(quality.roll)}°, yaw ${Math.round(quality.yaw)}°`;
}

function avatar(person: Pick<Person, 'name' | 'faceUrl'>): HTMLElement {
  return person.faceUrl ? h('img', { class: 'avatar', src: person.faceUrl, alt: '' }) : h('span', { class: 'avatar' }, initials(person.name));
}

function personRow(person: Person): HTMLLIElement {
  return h(
    'li',
    { class: 'person-row', 'data-testid': 'person-row', 'data-person-id': String(person.id), 'data-person-name': person.name },
    h(
      'a',
      { href: `#/people/${person.id}` },
      avatar(person),
      h('span', { class: 'person-name' }, person.name),
      h('span', { class: 'muted', 'data-testid': 'person-sample-count' }, plural(person.samples, 'sample')),
    ),
  );
}
