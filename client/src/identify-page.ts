/**
 * The Identify page: a photo (chosen or dropped) goes to POST /api/recognize and comes back
 * shown with a box and a name over every face (DOM labels as on the live view: green with the
 * score for a known person, amber "unknown") and each face's top candidates listed beside it.
 * Each face can be added to a person of the gallery, or to a new one: the photo is sent to
 * POST /api/people/:id/faces with that face's box as the pick.
 */
import { createPerson, listPeople, recognize, uploadFaces, type LookAlike, type Person, type RecognizeReport, type RecognizedFace } from './api.js';
import { byId, h } from './dom.js';
import { makeDropZone } from './drop.js';
import { lookAlikeNotice } from './enrol-widgets.js';
import { names, plural } from './format.js';
import { MATCH_SCORE_HINT, boxToPercent, faceFoundText, faceLabel, formatScore, matchScoreText } from './overlay.js';

export class IdentifyPage {
  private readonly input = byId('identify-input', HTMLInputElement);
  private readonly progress = byId('identify-progress', HTMLProgressElement);
  private readonly status = byId('identify-status', HTMLElement);
  private readonly error = byId('identify-error', HTMLElement);
  private readonly result = byId('identify-result', HTMLElement);
  private readonly image = byId('identify-image', HTMLImageElement);
  private readonly overlay = byId('identify-overlay', HTMLElement);
  private readonly caption = byId('identify-caption', HTMLElement);
  private readonly faces = byId('identify-faces', HTMLOListElement);
  private objectUrl: string | null = null;
  /** The photo shown: its faces are enrolled from it. */
  private file: File | null = null;
  /** Bumped per photo, so an older photo's answer never replaces a newer one's. */
  private request = 0;

  constructor() {
    makeDropZone(byId('identify-drop', HTMLElement), this.input, (files) => void this.identify(files[0]));
  }

  private async identify(file: File): Promise<void> {
    const request = ++this.request;
    this.file = file;
    this.error.textContent = '';
    this.overlay.replaceChildren();
    this.faces.replaceChildren();
    this.caption.textContent = '';
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = URL.createObjectURL(file);
    this.image.src = this.objectUrl;
    this.image.alt = `The photo ${file.name}`;
    this.result.hidden = false;
    this.result.setAttribute('aria-busy', 'true');
    this.progress.hidden = false;
    this.progress.value = 0;
    this.status.textContent = `Uploading ${file.name}…`;
    const answer = await recognize(file, (fraction) => {
      if (request !== this.request) return;
      this.progress.value = fraction;
      if (fraction >= 1) this.status.textContent = `Looking for faces in ${file.name}…`;
    });
    if (request !== this.request) return;
    this.progress.hidden = true;
    this.result.removeAttribute('aria-busy');
    if (!answer.ok) {
      this.status.textContent = '';
      this.error.textContent = answer.error;
      this.result.hidden = true;
      return;
    }
    const people = await listPeople();
    if (request !== this.request) return;
    this.render(answer.value, people.ok ? people.value : []);
  }

  private render(report: RecognizeReport, people: Person[]): void {
    const known = report.faces.filter((f) => f.known).length;
    this.status.textContent =
      report.faces.length === 0 ? `No face found in ${report.file}.` : `${plural(report.faces.length, 'face')} found in ${report.file}, ${known} recognised.`;
    this.caption.textContent = `${report.file} · ${report.width}×${report.height}`;
    this.result.style.setProperty('--aspect', String(report.width / report.height));
    this.overlay.replaceChildren(...report.faces.map((face, i) => faceBox(face, i + 1, report.width, report.height)));
    this.faces.replaceChildren(
      ...report.faces.map((face, i) => {
        const item = faceItem(face, i + 1);
        if (this.file) item.append(this.addForm(this.file, face, i + 1, people));
        return item;
      }),
    );
  }

  /** "Add to…": a person of the gallery (the face's best candidate first) or a new one, and the face's box as the pick. */
  private addForm(file: File, face: RecognizedFace, n: number, people: Person[]): HTMLElement {
    const request = this.request;
    const NEW = '';
    const likely = face.known ? face.label : undefined;
    const choices = names(people).sort((a, b) => Number(b === likely) - Number(a === likely));
    const select = h(
      'select',
      { name: 'person', 'aria-label': `Person to add face ${n} to`, 'data-testid': 'identify-add-person' },
      ...choices.map((name) => h('option', { value: name }, name)),
      h('option', { value: NEW }, 'New person…'),
    );
    const newName = h('input', {
      name: 'name',
      maxlength: '64',
      placeholder: 'Name of the new person',
      'aria-label': `Name of the new person for face ${n}`,
      'data-testid': 'identify-add-name',
    });
    const button = h('button', { type: 'submit', class: 'button', 'data-testid': 'identify-add' }, 'Add');
    const status = h('p', { class: 'muted identify-add-status', role: 'status', 'data-testid': 'identify-add-status' });
    const warnings = h('ul', { class: 'warnings', 'aria-label': `Look-alike warnings for face ${n}` });
    const showName = () => {
      newName.hidden = select.value !== NEW;
    };
    // an unknown face is more likely someone new than the first name of the list
    if (!likely) select.value = NEW;
    select.addEventListener('change', showName);
    showName();
    const form = h(
      'form',
      { class: 'identify-add-form', 'data-testid': 'identify-add-form', autocomplete: 'off', 'data-admin-only': '' },
      h('span', { class: 'identify-add-title' }, `Add face ${n} to`),
      select,
      newName,
      button,
      status,
      warnings,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void (async () => {
        button.disabled = true;
        status.className = 'muted identify-add-status';
        status.textContent = 'Adding…';
        warnings.replaceChildren();
        const added = await this.addFace(file, face, select.value === NEW ? { create: newName.value.trim() } : { name: select.value }, people);
        if (request !== this.request) return;
        button.disabled = false;
        if (!added.ok) {
          status.className = 'form-error identify-add-status';
          status.textContent = added.error;
          return;
        }
        const { person, sampleIds, lookAlikes } = added;
        status.replaceChildren(`Face ${n} added to `, h('a', { href: `#/people/${person.id}` }, person.name), ` (${plural(person.samples, 'sample')}).`);
        warnings.replaceChildren(
          ...lookAlikes.map((lookAlike) =>
            lookAlikeNotice(lookAlike, { personId: person.id, sampleIds }, () => {
              status.textContent = `Face ${n} was removed from ${person.name} again.`;
            }),
          ),
        );
      })();
    });
    return form;
  }

  /** Enrols `face` of `file` into the person named (created first when new). */
  private async addFace(
    file: File,
    face: RecognizedFace,
    target: { name: string } | { create: string },
    people: Person[],
  ): Promise<{ ok: true; person: Person; sampleIds: number[]; lookAlikes: LookAlike[] } | { ok: false; error: string }> {
    let person: Person | undefined;
    if ('create' in target) {
      if (!target.create) return { ok: false, error: 'type the name of the new person' };
      const created = await createPerson(target.create);
      if (!created.ok) return { ok: false, error: created.error };
      person = created.value;
      people.push(person);
    } else person = people.find((p) => p.name === target.name);
    if (!person) return { ok: false, error: `${'name' in target ? target.name : ''} is not in the gallery any more: reload the page` };
    const uploaded = await uploadFaces(person.id, [file], () => undefined, [{ file: 0, box: face.box }]);
    if (!uploaded.ok) return { ok: false, error: uploaded.error };
    const [result] = uploaded.value.results;
    if (!result.accepted || result.faceId === undefined) return { ok: false, error: `not added: ${result.reason ?? 'refused'}` };
    return { ok: true, person: uploaded.value.person, sampleIds: [result.faceId], lookAlikes: uploaded.value.lookAlikes };
  }
}

function faceBox(face: RecognizedFace, n: number, width: number, height: number): HTMLElement {
  const place = boxToPercent(face.box, width, height);
  const box = h(
    'div',
    {
      class: `face ${face.known ? 'known' : 'unknown'}` + (place.top < 8 ? ' label-inside' : '') + (place.left + place.width > 70 ? ' label-right' : ''),
      'data-testid': 'identify-face',
      'data-known': String(face.known),
      title: `face ${n}: ${face.known ? `${face.label} (${matchScoreText(face.score)})` : 'unknown person'}; ${faceFoundText(face.confidence)}`,
    },
    h('span', { class: 'label', 'data-testid': 'identify-label' }, faceLabel(face)),
    h('span', { class: 'face-number', 'aria-hidden': 'true' }, String(n)),
  );
  box.style.left = `${place.left}%`;
  box.style.top = `${place.top}%`;
  box.style.width = `${place.width}%`;
  box.style.height = `${place.height}%`;
  return box;
}

function faceItem(face: RecognizedFace, n: number): HTMLLIElement {
  const candidates = face.candidates.length
    ? h(
        'ol',
        { class: 'candidates', 'aria-label': `Closest people for face ${n}` },
        ...face.candidates.map((c) =>
          h(
            'li',
            {},
            h('span', {}, c.label),
            h('meter', { min: '0', max: '1', value: String(Math.max(0, c.score)), 'aria-label': `match score for ${c.label}`, title: MATCH_SCORE_HINT }),
            h('span', { class: 'score', 'data-testid': 'identify-candidate-score', title: MATCH_SCORE_HINT }, formatScore(c.score)),
          ),
        ),
      )
    : h('p', { class: 'muted' }, 'No one in the gallery to compare with.');
  return h(
    'li',
    { class: 'identify-item', 'data-testid': 'identify-item' },
    h(
      'div',
      { class: 'identify-item-head' },
      h('span', { class: 'face-number', 'aria-hidden': 'true' }, String(n)),
      h('span', { class: `chip ${face.known ? 'known' : 'unknown'}` }, face.known ? face.label : 'unknown'),
      h(
        'span',
        { class: 'muted', 'data-testid': 'identify-item-scores' },
        h('span', { title: MATCH_SCORE_HINT }, face.known ? matchScoreText(face.score) : `best ${matchScoreText(face.score)}`),
        ` · ${faceFoundText(face.confidence)}`,
      ),
    ),
    candidates,
  );
}
