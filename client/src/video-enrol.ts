/**
 * Enrolment from a video on a person's page: the clip (chosen or dropped) is uploaded, the
 * server's job scanning it is polled for its progress, and the varied faces it chose are shown
 * to tick; the ticked ones are added (POST …/confirm), or the job is discarded.
 */
import { confirmVideoJob, discardVideoJob, getVideoJob, uploadVideo, type EnrolResult, type VideoJob } from './api.js';
import { h } from './dom.js';
import { makeDropZone } from './drop.js';
import { plural } from './format.js';

/** How often a scanning job is asked for its progress. */
const POLL_MS = 500;

export class VideoEnrolView {
  private readonly input = h('input', {
    type: 'file',
    id: 'person-video-upload',
    class: 'visually-hidden',
    accept: 'video/*,.mp4,.mov,.webm,.mkv,.avi',
    'data-testid': 'person-video-upload',
  });
  private readonly progress = h('progress', { max: '1', value: '0', hidden: '', 'aria-label': 'Video progress', 'data-testid': 'video-progress' });
  private readonly status = h('p', { class: 'muted', role: 'status', 'data-testid': 'video-status' });
  private readonly error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'video-error' });
  private readonly faces = h('ul', { class: 'video-faces', 'aria-label': 'Faces chosen from the video', 'data-testid': 'video-faces' });
  private readonly confirm = h('button', { type: 'button', class: 'button', 'data-testid': 'video-confirm' }, 'Add the ticked faces');
  private readonly discard = h('button', { type: 'button', class: 'button ghost', 'data-testid': 'video-discard' }, 'Discard');
  private readonly actions = h('div', { class: 'video-actions', hidden: '' }, this.confirm, this.discard);
  readonly element = h(
    'div',
    { id: 'person-video-drop', class: 'dropzone video-drop', 'data-admin-only': '' },
    this.input,
    h(
      'label',
      { for: 'person-video-upload', class: 'drop-label' },
      h('span', {}, h('strong', {}, 'Enrol from a video:'), ' drop a clip here or ', h('span', { class: 'link' }, 'choose a video')),
      h('small', {}, 'The server picks up to 12 clear, varied views of the face, and you choose which to add. One person in view; up to 200 MB and 10 minutes.'),
    ),
    this.progress,
    this.status,
    this.error,
    this.faces,
    this.actions,
  );
  private personId: number | null = null;
  private job: VideoJob | null = null;
  /** Bumped per person and per video: an older job's answers are dropped. */
  private generation = 0;

  /** `onAdded`: after faces were added, with the server's answer (its look-alikes). */
  constructor(private readonly onAdded: (result: EnrolResult) => void) {
    makeDropZone(this.element, this.input, (files) => void this.start(files[0]));
    this.confirm.addEventListener('click', () => void this.add());
    this.discard.addEventListener('click', () => void this.drop());
  }

  /** Shown for `personId`: whatever another person's video left is cleared (its job discarded). */
  show(personId: number): void {
    if (personId === this.personId) return;
    void this.forget();
    this.personId = personId;
  }

  private reset(): void {
    this.generation++;
    this.job = null;
    this.progress.hidden = true;
    this.status.textContent = '';
    this.error.textContent = '';
    this.faces.replaceChildren();
    this.actions.hidden = true;
    this.input.disabled = false;
  }

  /** Discards the job on the server, if any, and clears the view. */
  private async forget(): Promise<void> {
    const job = this.job;
    this.reset();
    if (job && job.state !== 'failed') await discardVideoJob(job.personId, job.id);
  }

  private async start(file: File): Promise<void> {
    const personId = this.personId;
    if (personId === null) return;
    await this.forget();
    const generation = this.generation;
    this.input.disabled = true;
    this.progress.hidden = false;
    this.progress.value = 0;
    this.status.textContent = `Uploading ${file.name}…`;
    const started = await uploadVideo(personId, file, (fraction) => {
      if (generation !== this.generation) return;
      this.progress.value = fraction;
      this.status.textContent = fraction >= 1 ? `Checking ${file.name}…` : `Uploading ${file.name}… ${Math.round(fraction * 100)}%`;
    });
    if (generation !== this.generation) return;
    if (!started.ok) {
      this.fail(started.error);
      return;
    }
    this.job = started.value;
    await this.follow(started.value, generation);
  }

  /** Polls the job until it is ready or failed, showing its progress. */
  private async follow(job: VideoJob, generation: number): Promise<void> {
    let current = job;
    while (current.state === 'scanning') {
      this.progress.value = current.progress;
      this.status.textContent = `Looking for faces in ${current.file}: frame ${current.framesDone} of about ${current.framesTotal}…`;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (generation !== this.generation) return;
      const polled = await getVideoJob(current.personId, current.id);
      if (generation !== this.generation) return;
      if (!polled.ok) {
        this.fail(polled.error);
        return;
      }
      current = this.job = polled.value;
    }
    this.progress.hidden = true;
    this.input.disabled = false;
    if (current.state === 'failed') {
      this.fail(current.error ?? 'the video could not be scanned');
      return;
    }
    this.showFaces(current);
  }

  private showFaces(job: VideoJob): void {
    const skipped = Object.entries(job.skipped).map(([reason, n]) => `${n} ${reason}`);
    this.status.textContent =
      `${plural(job.faces.length, 'face')} chosen from ${job.file}: ${job.framesDone} frames looked at, ${job.candidates} with one clear face` +
      (skipped.length ? ` (passed over: ${skipped.join(', ')})` : '') +
      '. Untick any that is not the person, then add them.';
    this.faces.replaceChildren(
      ...job.faces.map((face) => {
        const box = h('input', { type: 'checkbox', checked: '', value: String(face.index), 'data-testid': 'video-face-check' });
        box.addEventListener('change', () => this.countTicked());
        return h(
          'li',
          { class: 'video-face', 'data-testid': 'video-face' },
          h(
            'label',
            {},
            h('img', { src: face.imageUrl, alt: `Face at ${face.time.toFixed(1)} s`, loading: 'lazy' }),
            h('span', { class: 'video-face-meta' }, box, `${face.time.toFixed(1)} s`),
          ),
        );
      }),
    );
    this.actions.hidden = false;
    this.countTicked();
  }

  private ticked(): number[] {
    return [...this.faces.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')].filter((b) => b.checked).map((b) => Number(b.value));
  }

  private countTicked(): void {
    const n = this.ticked().length;
    this.confirm.textContent = n ? `Add ${plural(n, 'face')}` : 'Tick the faces to add';
    this.confirm.disabled = n === 0;
  }

  private async add(): Promise<void> {
    const job = this.job;
    if (!job) return;
    this.confirm.disabled = true;
    const result = await confirmVideoJob(job.personId, job.id, this.ticked());
    if (job !== this.job) return;
    if (!result.ok) {
      this.error.textContent = result.error;
      this.confirm.disabled = false;
      return;
    }
    this.reset();
    this.status.textContent = `${plural(result.value.sampleIds.length, 'face')} added from ${job.file}.`;
    this.onAdded(result.value);
  }

  private async drop(): Promise<void> {
    await this.forget();
    this.status.textContent = 'The video was discarded; nothing was added.';
  }

  private fail(message: string): void {
    this.progress.hidden = true;
    this.input.disabled = false;
    this.error.textContent = message;
    this.status.textContent = '';
  }
}
