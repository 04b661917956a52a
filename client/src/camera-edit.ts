/**
 * The camera edit dialog: name, URL, fps, largest size, detections a second (empty: no cap),
 * RTSP transport and on/off of one camera, saved with PATCH /api/cameras/:id (the server keeps it across restarts). The URL is
 * shown as the server gives it, password as ***, and sent back so when unchanged, which keeps
 * the password. A refused change shows the server's message and changes nothing.
 */
import { cameraUrlProblem } from './camera-url.js';
import type { CameraStatus } from '../../src/common/live-events.js';
import { updateCamera, type CameraChanges } from './api.js';
import { byId } from './dom.js';

export class CameraEditDialog {
  private readonly dialog = byId('camera-edit', HTMLDialogElement);
  private readonly form = byId('camera-edit-form', HTMLFormElement);
  private readonly title = byId('camera-edit-title', HTMLElement);
  private readonly origin = byId('camera-edit-origin', HTMLElement);
  private readonly error = byId('camera-edit-error', HTMLElement);
  private cameraId: string | null = null;

  /** @param onSaved  the camera as the server left it after a save */
  constructor(private readonly onSaved: (camera: CameraStatus) => void) {
    for (const id of ['camera-edit-close', 'camera-edit-cancel']) byId(id, HTMLButtonElement).addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) this.dialog.close(); // the backdrop
    });
    this.dialog.addEventListener('close', () => {
      this.cameraId = null;
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
  }

  open(camera: CameraStatus): void {
    this.cameraId = camera.id;
    this.title.textContent = `Edit camera ${camera.id}`;
    this.origin.hidden = camera.origin !== 'file';
    this.error.textContent = '';
    this.form.classList.remove('failed');
    this.field('name').value = camera.name === camera.id ? '' : camera.name;
    this.field('url').value = camera.url;
    this.field('fps').value = String(camera.fps);
    this.field('maxWidth').value = String(camera.maxWidth);
    this.field('maxHeight').value = String(camera.maxHeight);
    this.field('detectFps').value = camera.detectFps === null ? '' : String(camera.detectFps);
    this.field('enabled').checked = camera.enabled;
    const transport = this.form.elements.namedItem('transport');
    if (transport instanceof HTMLSelectElement) transport.value = camera.transport;
    this.dialog.showModal();
    this.field('name').focus();
  }

  private field(name: string): HTMLInputElement {
    const element = this.form.elements.namedItem(name);
    if (!(element instanceof HTMLInputElement)) throw new Error(`the camera edit form has no input "${name}"`);
    return element;
  }

  /** A number field, or null (and the error shown) when it does not hold a number; ranges are the server's to check. */
  private number(name: string, label: string): number | null {
    const text = this.field(name).value.trim();
    const value = Number(text);
    if (text !== '' && Number.isFinite(value)) return value;
    this.fail(`${label}: enter a number`);
    return null;
  }

  /** Like number(), with an empty field meaning null (no value, e.g. no cap); undefined (and the error shown) when it holds something else. */
  private optionalNumber(name: string, label: string): number | null | undefined {
    if (this.field(name).value.trim() === '') return null;
    return this.number(name, label) ?? undefined;
  }

  private fail(message: string): void {
    this.error.textContent = message;
    this.form.classList.add('failed');
  }

  private async save(): Promise<void> {
    const id = this.cameraId;
    if (id === null) return;
    this.error.textContent = '';
    this.form.classList.remove('failed');
    const urlProblem = cameraUrlProblem(this.field('url').value.trim());
    if (urlProblem) {
      this.fail(urlProblem);
      return;
    }
    const fps = this.number('fps', 'Frames per second');
    const maxWidth = fps === null ? null : this.number('maxWidth', 'Largest width');
    const maxHeight = maxWidth === null ? null : this.number('maxHeight', 'Largest height');
    if (fps === null || maxWidth === null || maxHeight === null) return;
    const detectFps = this.optionalNumber('detectFps', 'Detections per second');
    if (detectFps === undefined) return;
    const transport = this.form.elements.namedItem('transport');
    const name = this.field('name').value.trim();
    const changes: CameraChanges = {
      // an empty name shows the id, as for a camera added without one
      name: name === '' ? id : name,
      url: this.field('url').value.trim(),
      fps,
      maxWidth,
      maxHeight,
      detectFps,
      transport: transport instanceof HTMLSelectElement && transport.value === 'udp' ? 'udp' : 'tcp',
      enabled: this.field('enabled').checked,
    };
    const submit = this.form.querySelector('button[type="submit"]');
    if (submit instanceof HTMLButtonElement) submit.disabled = true;
    const result = await updateCamera(id, changes);
    if (submit instanceof HTMLButtonElement) submit.disabled = false;
    if (!result.ok) this.fail(plain(result.error));
    else {
      this.dialog.close();
      this.onSaved(result.value);
    }
  }
}

/** The server lists each bad field as "  key=value: what to do" under "invalid camera:"; the form shows those lines only. */
function plain(error: string): string {
  return error.replace(/^invalid camera:\n/, '').replace(/^ +/gm, '');
}
