/**
 * Pieces the People and Identify pages share when they enrol a face: thumbnails of the faces
 * the server found in a photo, to pick the one to enrol (cut from the user's own file, so
 * nothing is uploaded again to show them), and the look-alike notice with its next steps.
 */
import { deleteFace, type FoundFace, type LookAlike } from './api.js';
import { h } from './dom.js';
import { plural } from './format.js';
import { MATCH_SCORE_HINT, matchScoreText } from './overlay.js';

/** Side of a face thumbnail, CSS pixels (drawn at twice that for sharp screens). */
const THUMB_PX = 72;

/**
 * A row of buttons, one a face found in `file`, each showing that face; choosing one calls
 * `onPick` with its index (the index the server's refusal counts).
 */
export function facePicker(file: File, faces: FoundFace[], onPick: (index: number) => void): HTMLElement {
  const buttons = faces.map((face, index) => {
    const canvas = h('canvas', { width: String(THUMB_PX * 2), height: String(THUMB_PX * 2), 'aria-hidden': 'true' });
    const button = h(
      'button',
      { type: 'button', class: 'face-pick', 'data-testid': 'face-pick', 'data-face': String(index), 'aria-label': `Enrol face ${index + 1} of ${faces.length} in ${file.name}` },
      canvas,
      h('span', {}, `Face ${index + 1}`),
    );
    button.addEventListener('click', () => {
      for (const b of buttons) b.button.disabled = true;
      onPick(index);
    });
    return { button, canvas, face };
  });
  void drawFaces(file, buttons);
  return h('div', { class: 'face-picker', role: 'group', 'aria-label': `Faces found in ${file.name}: choose the one to enrol` }, ...buttons.map((b) => b.button));
}

/** Draws each face of `file` into its canvas: the box with a margin, square. */
async function drawFaces(file: File, targets: { canvas: HTMLCanvasElement; face: FoundFace }[]): Promise<void> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return; // the buttons still say "Face 1", "Face 2"…: the photo could not be drawn here
  }
  for (const { canvas, face } of targets) {
    const [x, y, w, hgt] = face.box;
    const side = Math.max(w, hgt) * 1.3;
    const context = canvas.getContext('2d');
    if (!context) continue;
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, x + w / 2 - side / 2, y + hgt / 2 - side / 2, side, side, 0, 0, canvas.width, canvas.height);
  }
  bitmap.close();
}

/**
 * The look-alike warning in plain words, with what to do next: keep the new faces anyway, look
 * at the other person, or undo the add (`sampleIds` of `personId` are deleted, then `onUndone`).
 */
export function lookAlikeNotice(lookAlike: LookAlike, added: { personId: number; sampleIds: number[] }, onUndone: () => void): HTMLLIElement {
  const message = h(
    'p',
    { class: 'look-alike-text' },
    h('strong', {}, `${lookAlike.person} now looks like ${lookAlike.lookAlike}`),
    ' (',
    h('span', { title: MATCH_SCORE_HINT, 'data-testid': 'look-alike-score' }, matchScoreText(lookAlike.score)),
    `). The new ${added.sampleIds.length === 1 ? 'photo is' : 'faces are'} close to ${lookAlike.lookAlike}'s: the cameras may mix the two up. ` +
      `Keep ${added.sampleIds.length === 1 ? 'it' : 'them'} if they are different people (more varied photos of both help), or undo the add.`,
  );
  const status = h('span', { class: 'muted', role: 'status' });
  const keep = h('button', { type: 'button', class: 'button ghost', 'data-testid': 'look-alike-keep' }, 'Keep anyway');
  const view = h('a', { class: 'button ghost', href: `#/people/${lookAlike.lookAlikeId}`, 'data-testid': 'look-alike-view' }, `View ${lookAlike.lookAlike}`);
  const undo = h('button', { type: 'button', class: 'button danger', 'data-testid': 'look-alike-undo' }, `Cancel: remove the ${plural(added.sampleIds.length, 'new face')}`);
  const notice = h(
    'li',
    { class: 'warning look-alike', 'data-testid': 'upload-warning', role: 'alert' },
    message,
    h('div', { class: 'look-alike-actions' }, keep, view, undo, status),
  );
  keep.addEventListener('click', () => notice.remove());
  undo.addEventListener('click', () => {
    undo.disabled = true;
    keep.disabled = true;
    void (async () => {
      for (const id of added.sampleIds) {
        const removed = await deleteFace(added.personId, id);
        if (!removed.ok && removed.status !== 404) {
          status.textContent = removed.error;
          undo.disabled = false;
          return;
        }
      }
      notice.remove();
      onUndone();
    })();
  });
  return notice;
}
