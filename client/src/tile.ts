/**
 * One camera on the page: its latest frame on a canvas, face boxes and labels as DOM elements
 * over it, the camera's state when it is not live, and fps/latency readouts.
 *
 * Frames are acknowledged only once drawn. At most one frame is being decoded per tile; a frame
 * that arrives meanwhile waits in a single slot, and a frame it replaces there is acknowledged at
 * once, so the server's window of unacknowledged frames stays open and no queue grows.
 */
import type { CameraStatus, LiveFace, FrameMessage } from '../../src/common/live-events.js';
import { h } from './dom.js';
import { FpsMeter, LatencyMeter } from './meter.js';
import { boxToPercent, faceLabel, faceTitle, stateText } from './overlay.js';

/** What a tile's own controls ask of the page (the ✕ button is the constructor's onRemove). */
export interface TileActions {
  onEdit?: (cameraId: string) => void;
  onToggle?: (cameraId: string, enabled: boolean) => void;
  /** The tile's shown size changed (a resize, the large view): the page may ask for another JPEG width. */
  onResize?: (cameraId: string) => void;
}

/** The range of widths a watch may ask for (the server's rule, src/server/live.ts). */
const MIN_WATCH_WIDTH = 16;
const MAX_WATCH_WIDTH = 3840;

interface PendingFrame {
  frame: FrameMessage;
  drawn: () => void;
}

export class CameraTile {
  readonly element: HTMLElement;
  private readonly frameBox: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLElement;
  private readonly stateLine: HTMLElement;
  private readonly nameLine: HTMLElement;
  private readonly fpsReadout: HTMLElement;
  private readonly processedReadout: HTMLElement;
  private readonly overloadBadge: HTMLElement;
  private readonly resizes: ResizeObserver;
  /** The last width wantedWidth() saw the tile shown at, in device pixels. */
  private shownWidth: number | null = null;
  private readonly latencyReadout: HTMLElement;
  private readonly onOff: HTMLInputElement;
  private readonly fps = new FpsMeter();
  private readonly latency = new LatencyMeter();
  /** The box element of each track on screen. */
  private readonly faceBoxes = new Map<number, { element: HTMLElement; label: HTMLElement }>();
  private decoding = false;
  private pending: PendingFrame | null = null;
  private camera: CameraStatus | undefined;
  private lastDrawnAt = 0;
  private closed = false;
  /** Frames drawn since the tile was made (shown as data-frames, for tests and debugging). */
  private framesDrawn = 0;
  /** Why the server refused to send this camera's frames, until a frame arrives after all. */
  private refusal: string | null = null;

  constructor(
    readonly cameraId: string,
    onRemove: (cameraId: string) => void,
    actions: TileActions = {},
  ) {
    this.canvas = h('canvas', { class: 'video', 'aria-hidden': 'true' });
    this.overlay = h('div', { class: 'overlay' });
    this.stateLine = h('div', { class: 'state', 'data-testid': 'camera-state', role: 'status' });
    this.overloadBadge = h('span', { class: 'badge overloaded', 'data-testid': 'tile-overloaded', hidden: '' }, 'overloaded');
    this.frameBox = h('div', { class: 'frame' }, this.canvas, this.overlay, this.stateLine, this.overloadBadge);
    this.nameLine = h('span', { class: 'name' }, cameraId);
    this.fpsReadout = h('span', { class: 'readout', 'data-testid': 'tile-fps', title: 'frames drawn per second in this browser' }, '– fps');
    this.processedReadout = h('span', { class: 'readout', 'data-testid': 'tile-processed', title: 'frames the server looked for faces in, per second' }, '– processed');
    this.latencyReadout = h('span', { class: 'readout', 'data-testid': 'tile-latency', title: 'capture → drawn latency (median of the last frames)' }, '– ms');
    const remove = h('button', { type: 'button', class: 'remove', title: `Remove camera ${cameraId}`, 'aria-label': `Remove camera ${cameraId}` }, '✕');
    remove.addEventListener('click', (event) => {
      event.stopPropagation();
      onRemove(cameraId);
    });
    const edit = h(
      'button',
      { type: 'button', class: 'remove edit', 'data-testid': 'camera-edit-button', title: `Edit camera ${cameraId}`, 'aria-label': `Edit camera ${cameraId}` },
      '✎',
    );
    edit.addEventListener('click', (event) => {
      event.stopPropagation();
      actions.onEdit?.(cameraId);
    });
    // on/off: the switch shows what the server says; a click asks for the change and waits for it
    this.onOff = h('input', { type: 'checkbox', role: 'switch', 'data-testid': 'camera-switch', 'aria-label': `Camera ${cameraId} on` });
    this.onOff.addEventListener('click', (event) => {
      event.stopPropagation();
      actions.onToggle?.(cameraId, this.onOff.checked);
    });
    const onOffLabel = h('label', { class: 'switch', title: 'Switch the camera on or off (kept across restarts)' }, this.onOff);
    onOffLabel.addEventListener('click', (event) => event.stopPropagation());
    this.element = h(
      'article',
      { class: 'tile', 'data-testid': 'camera-tile', 'data-camera-id': cameraId, 'data-frames': '0', tabindex: '0' },
      this.frameBox,
      h('footer', { class: 'tile-bar' }, this.nameLine, h('span', { class: 'readouts' }, this.fpsReadout, this.processedReadout, this.latencyReadout), onOffLabel, edit, remove),
    );
    this.setAspect(16, 9);
    this.update(undefined);
    this.resizes = new ResizeObserver(() => actions.onResize?.(cameraId));
    this.resizes.observe(this.frameBox);
  }

  /**
   * The JPEG width this tile shows sharply: its width in device pixels, within the server's
   * range. A hidden tile (another camera's large view) keeps the width it last had; null for one
   * never laid out.
   */
  wantedWidth(): number | null {
    const width = Math.round(this.frameBox.getBoundingClientRect().width * window.devicePixelRatio);
    if (width > 0) this.shownWidth = Math.min(MAX_WATCH_WIDTH, Math.max(MIN_WATCH_WIDTH, width));
    return this.shownWidth;
  }

  /** The camera's latest status (state, reason, name). */
  update(camera: CameraStatus | undefined): void {
    this.camera = camera;
    const state = camera?.state ?? 'connecting';
    this.element.dataset.state = state;
    const name = camera?.name && camera.name !== this.cameraId ? `${camera.name} (${this.cameraId})` : this.cameraId;
    this.nameLine.textContent = name;
    this.nameLine.title = camera?.url ?? '';
    this.onOff.checked = camera?.enabled ?? true;
    this.element.classList.toggle('off', camera?.enabled === false);
    this.element.setAttribute('aria-label', `Camera ${name}, ${state}; press Enter for the large view`);
    // what the server manages to process, beside what this browser draws: they part when it is overloaded
    const processed = camera?.state === 'live' ? camera.fpsProcessed : null;
    this.processedReadout.textContent = processed === null ? '– processed' : `${formatFps(processed)} processed`;
    const overloaded = camera?.overloaded ?? false;
    this.overloadBadge.hidden = !overloaded;
    this.overloadBadge.title = overloaded ? (camera?.overloadReason ?? 'the camera gets less detection than it asks for') : '';
    if (camera && camera.fullDetectionIntervalMs > 0)
      this.processedReadout.title = `frames the server looked for faces in, per second; a full detection every ${Math.round(camera.fullDetectionIntervalMs)} ms`;
    this.element.classList.toggle('overloaded', overloaded);
    this.showState();
  }

  /** A frame from the server; `drawn` is its acknowledgement and is called exactly once. */
  receive(frame: FrameMessage, drawn: () => void): void {
    if (this.closed) {
      drawn();
      return;
    }
    if (this.decoding) {
      this.pending?.drawn(); // replaced before it was drawn: release it now
      this.pending = { frame, drawn };
      return;
    }
    void this.draw({ frame, drawn });
  }

  /** The server refused to watch this camera: the tile says why instead of waiting for frames. */
  showError(message: string): void {
    this.refusal = message;
    this.showState();
  }

  /** Refresh the readouts (called on a timer, so fps falls to 0 when frames stop). */
  tick(now: number): void {
    this.fpsReadout.textContent = this.framesDrawn === 0 ? '– fps' : `${formatFps(this.fps.fps(now))} fps`;
    const stale = now - this.lastDrawnAt > 3000;
    if (stale) this.latency.clear();
    const latency = this.latency.median();
    this.latencyReadout.textContent = latency === null ? '– ms' : `${Math.round(latency)} ms`;
    this.element.classList.toggle('stale', this.framesDrawn > 0 && stale);
    this.showState();
  }

  /** Stop drawing; a frame still waiting is acknowledged. */
  close(): void {
    this.closed = true;
    this.resizes.disconnect();
    this.pending?.drawn();
    this.pending = null;
    this.element.remove();
  }

  private async draw(next: PendingFrame): Promise<void> {
    this.decoding = true;
    let current: PendingFrame | null = next;
    while (current) {
      try {
        await this.render(current.frame);
      } catch {
        // an undecodable JPEG is skipped: the next frame replaces it
      } finally {
        current.drawn();
      }
      current = this.closed ? null : this.pending;
      this.pending = null;
    }
    this.decoding = false;
  }

  private async render(frame: FrameMessage): Promise<void> {
    const bytes = frame.jpeg instanceof ArrayBuffer ? frame.jpeg : new Uint8Array(frame.jpeg);
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
    try {
      if (this.closed) return;
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      this.canvas.getContext('2d')?.drawImage(bitmap, 0, 0);
    } finally {
      bitmap.close();
    }
    // boxes are in the frame's pixels (frame.width × frame.height), which may differ from the JPEG's
    const width = frame.width || this.canvas.width;
    const height = frame.height || this.canvas.height;
    this.setAspect(width, height);
    this.drawFaces(frame.faces, width, height);
    const now = performance.now();
    this.lastDrawnAt = now;
    this.fps.tick(now);
    this.latency.add(Date.now() - frame.ts);
    this.framesDrawn++;
    this.element.dataset.frames = String(this.framesDrawn);
    this.element.dataset.seq = String(frame.seq);
    this.element.classList.add('has-frame');
    this.refusal = null;
    this.showState();
  }

  /**
   * Places one box per face. A track keeps its element from frame to frame (moved, relabelled),
   * so hovering a face keeps showing its track id while the video plays.
   */
  private drawFaces(faces: LiveFace[], width: number, height: number): void {
    const seen = new Set<number>();
    for (const face of faces) {
      seen.add(face.trackId);
      let box = this.faceBoxes.get(face.trackId);
      if (!box) {
        box = {
          element: h('div', { 'data-testid': 'face-box', 'data-track-id': String(face.trackId) }),
          label: h('span', { class: 'label', 'data-testid': 'face-label' }),
        };
        box.element.append(box.label, h('span', { class: 'track', 'aria-hidden': 'true' }, `#${face.trackId}`));
        this.faceBoxes.set(face.trackId, box);
        this.overlay.append(box.element);
      }
      const place = boxToPercent(face.box, width, height);
      // labels stay inside the frame: below the top edge for a face at the top, right-aligned on the right
      box.element.className = `face ${face.known ? 'known' : 'unknown'}` + (place.top < 8 ? ' label-inside' : '') + (place.left + place.width > 70 ? ' label-right' : '');
      box.element.title = faceTitle(face);
      box.element.style.left = `${place.left}%`;
      box.element.style.top = `${place.top}%`;
      box.element.style.width = `${place.width}%`;
      box.element.style.height = `${place.height}%`;
      const text = faceLabel(face);
      if (box.label.textContent !== text) box.label.textContent = text;
    }
    for (const [trackId, box] of this.faceBoxes) {
      if (seen.has(trackId)) continue;
      box.element.remove();
      this.faceBoxes.delete(trackId);
    }
  }

  /** The frame's shape, as --aspect on the tile (the frame box and the large view follow it). */
  private setAspect(width: number, height: number): void {
    if (width > 0 && height > 0) this.element.style.setProperty('--aspect', String(width / height));
  }

  private showState(): void {
    let text = this.refusal ?? stateText(this.camera);
    if (text === null && this.framesDrawn === 0) text = 'live: waiting for the first frame…';
    this.stateLine.hidden = text === null;
    this.stateLine.textContent = text ?? '';
  }
}

/** A rate as the readouts show it: whole numbers from 10, one decimal below. */
function formatFps(fps: number): string {
  return fps >= 10 ? fps.toFixed(0) : fps.toFixed(1);
}
