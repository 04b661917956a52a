/**
 * The Identify page: a photo (chosen or dropped) goes to POST /api/recognize and comes back
 * shown with a box and a name over every face (DOM labels as on the live view: green with the
 * score for a known person, amber "unknown") and each face's top candidates listed beside it.
 */
import { recognize, type RecognizeReport, type RecognizedFace } from './api.js';
import { byId, h } from './dom.js';
import { makeDropZone } from './drop.js';
import { plural } from './format.js';
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
  /** Bumped per photo, so an older photo's answer never replaces a newer one's. */
  private request = 0;

  constructor() {
    makeDropZone(byId('identify-drop', HTMLElement), this.input, (files) => void this.identify(files[0]));
  }

  private async identify(file: File): Promise<void> {
    const request = ++this.request;
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
    this.render(answer.value);
  }

  private render(report: RecognizeReport): void {
    const known = report.faces.filter((f) => f.known).length;
    this.status.textContent =
      report.faces.length === 0 ? `No face found in ${report.file}.` : `${plural(report.faces.length, 'face')} found in ${report.file}, ${known} recognised.`;
    this.caption.textContent = `${report.file} · ${report.width}×${report.height}`;
    this.result.style.setProperty('--aspect', String(report.width / report.height));
    this.overlay.replaceChildren(...report.faces.map((face, i) => faceBox(face, i + 1, report.width, report.height)));
    this.faces.replaceChildren(...report.faces.map((face, i) => faceItem(face, i + 1)));
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
