/**
 * One camera on the page: its latest frame on a canvas, face boxes and labels as DOM elements
 * over it, the camera's state when it is not live, and fps/latency readouts.
 *
 * Frames are acknowledged only once drawn. At most one frame is being decoded per tile; a frame
 * that arrives meanwhile waits in a single slot, and a frame it replaces there is acknowledged at
 * once, so the server's window of unacknowledged frames stays open and no queue grows.
 *
 * A failed camera's tile is compact (the page puts it in a strip above the grid): the reason,
 * "retrying in N s" counted down to the server's next retry, and a "retry now" button.
 *
 * A click on a box opens a small panel with what the matcher made of that face (asked of the
 * server then, not sent with every frame): its best candidates with their scores, the margin
 * between the first two, and why it is unknown.
 */
import type { CameraStatus, ExplainReply, FaceExplanation, LiveFace, LiveFaceState, FrameMessage } from '../../src/common/live-events.js';
import { h } from './dom.js';
import { FpsMeter, LatencyMeter } from './meter.js';
import { MATCH_SCORE_HINT, UNKNOWN_WHY_TEXT, boxToPercent, explanationHeadline, faceLabel, faceTitle, formatMargin, formatScore, stateText } from './overlay.js';

/** What a tile's own controls ask of the page (the ✕ button is the constructor's onRemove). */
export interface TileActions {
  onEdit?: (cameraId: string) => void;
  onToggle?: (cameraId: string, enabled: boolean) => void;
  /** The tile's shown size changed (a resize, the large view): the page may ask for another JPEG width. */
  onResize?: (cameraId: string) => void;
  /** A box was clicked: what the server's matcher made of that track. */
  onExplain?: (cameraId: string, trackId: number) => Promise<ExplainReply>;
  /** "Retry now": the camera's source starts again at once; resolves with the server's refusal, or null. */
  onRestart?: (cameraId: string) => Promise<string | null>;
  /** "Move earlier" / "move later" in the grid's order (-1, +1). */
  onMove?: (cameraId: string, step: -1 | 1) => void;
  /** The server's clock now, ms since the epoch (a camera's nextRetryAt is on it). */
  serverNow?: () => number;
}

/** The open panel of a clicked box: its track, the state it was explained in, and its element. */
interface FacePanel {
  trackId: number;
  element: HTMLElement;
  /** The state the shown explanation is of; null while the request is out. */
  state: LiveFaceState | null;
  /** The state the box had when last drawn: a change asks the server again. */
  drawnState: LiveFaceState | null;
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
  private readonly retryLine: HTMLElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly serverNow: () => number;
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
  private panel: FacePanel | null = null;
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
    this.stateLine = h('div', { class: 'state-text', 'data-testid': 'camera-state', role: 'status' });
    // counted down each second: not a live region, or a screen reader would read every second
    this.retryLine = h('span', { class: 'retry-text', 'data-testid': 'camera-retry', hidden: '' });
    this.retryButton = h('button', { type: 'button', class: 'button ghost retry-now', 'data-testid': 'camera-retry-now', 'data-admin-only': '', hidden: '' }, 'Retry now');
    this.retryButton.addEventListener('click', (event) => {
      event.stopPropagation();
      void this.retryNow(actions.onRestart);
    });
    const stateBox = h('div', { class: 'state' }, this.stateLine, h('div', { class: 'retry' }, this.retryLine, this.retryButton));
    this.overloadBadge = h('span', { class: 'badge overloaded', 'data-testid': 'tile-overloaded', hidden: '' }, 'overloaded');
    const moveButton = (step: -1 | 1, symbol: string, words: string) => {
      const button = h(
        'button',
        {
          type: 'button',
          class: 'icon-button move',
          'data-testid': step < 0 ? 'tile-move-earlier' : 'tile-move-later',
          title: `${words} (Alt+${step < 0 ? '←' : '→'})`,
          'aria-label': `Move camera ${cameraId} ${words.toLowerCase().replace('move ', '')}`,
        },
        symbol,
      );
      button.addEventListener('click', (event) => {
        event.stopPropagation();
        actions.onMove?.(cameraId, step);
      });
      return button;
    };
    const moves = h('div', { class: 'move-buttons' }, moveButton(-1, '◀', 'Move earlier'), moveButton(1, '▶', 'Move later'));
    // the picture keeps the camera's shape inside the tile's fixed box (letterboxed), the boxes over it
    const picture = h('div', { class: 'picture' }, this.canvas, this.overlay);
    this.frameBox = h('div', { class: 'frame' }, picture, stateBox, this.overloadBadge, moves);
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
      { class: 'tile', 'data-testid': 'camera-tile', 'data-camera-id': cameraId, 'data-frames': '0', tabindex: '0', draggable: 'true' },
      this.frameBox,
      h('footer', { class: 'tile-bar' }, this.nameLine, h('span', { class: 'readouts' }, this.fpsReadout, this.processedReadout, this.latencyReadout), onOffLabel, edit, remove),
    );
    this.serverNow = actions.serverNow ?? (() => Date.now());
    this.setAspect(16, 9);
    this.update(undefined);
    this.resizes = new ResizeObserver(() => actions.onResize?.(cameraId));
    this.resizes.observe(this.frameBox);
    this.explainFace = actions.onExplain;
  }

  private readonly explainFace: TileActions['onExplain'];

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
  /** `node`: the node that runs the camera (GET /api/cameras and the live status carry it). */
  update(camera: (CameraStatus & { node?: string | null }) | undefined): void {
    if (camera?.state !== this.camera?.state || camera?.nextRetryAt !== this.camera?.nextRetryAt) this.retryRefusal = null;
    this.camera = camera;
    const state = camera?.state ?? 'connecting';
    this.failing = state === 'failed' || (this.failing && state === 'connecting');
    this.element.dataset.state = state;
    const name = camera?.name && camera.name !== this.cameraId ? `${camera.name} (${this.cameraId})` : this.cameraId;
    this.nameLine.textContent = name;
    this.nameLine.title = [camera?.url ?? '', camera?.node ? `runs on node ${camera.node}` : ''].filter(Boolean).join(' · ');
    this.element.dataset.node = camera?.node ?? '';
    this.onOff.checked = camera?.enabled ?? true;
    this.element.classList.toggle('off', camera?.enabled === false);
    this.element.setAttribute('aria-label', `Camera ${name}, ${state}; press Enter for the large view, Alt+arrow keys to move it`);
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
          element: h('div', { 'data-testid': 'face-box', 'data-track-id': String(face.trackId), role: 'button', tabindex: '0' }),
          label: h('span', { class: 'label', 'data-testid': 'face-label' }),
        };
        box.element.append(box.label, h('span', { class: 'track', 'aria-hidden': 'true' }, `#${face.trackId}`));
        const trackId = face.trackId;
        // the box's own click: the tile's (the large view) is not toggled by it
        box.element.addEventListener('click', (event) => {
          event.stopPropagation();
          this.toggleExplanation(trackId);
        });
        box.element.addEventListener('keydown', (event) => {
          if (event.key !== 'Enter' && event.key !== ' ') return;
          event.preventDefault();
          event.stopPropagation();
          this.toggleExplanation(trackId);
        });
        this.faceBoxes.set(face.trackId, box);
        this.overlay.append(box.element);
      }
      const place = boxToPercent(face.box, width, height);
      // labels stay inside the frame: below the top edge for a face at the top, right-aligned on the right
      box.element.className = `face ${face.state}` + (place.top < 8 ? ' label-inside' : '') + (place.left + place.width > 70 ? ' label-right' : '');
      box.element.dataset.state = face.state;
      box.element.classList.toggle('explained', this.panel?.trackId === face.trackId);
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
    const panel = this.panel;
    if (!panel) return;
    const explained = faces.find((f) => f.trackId === panel.trackId);
    if (!explained) {
      panel.element.classList.add('gone');
      panel.element.dataset.gone = 'true';
      return;
    }
    // the vote decided since the panel was filled: ask again, once per change
    if (panel.state !== null && explained.state !== panel.state && explained.state !== panel.drawnState) void this.explain(panel.trackId);
    panel.drawnState = explained.state;
  }

  /** Opens the panel of a box, or closes it when it is that box's already. */
  private toggleExplanation(trackId: number): void {
    if (this.panel?.trackId === trackId) {
      this.closeExplanation();
      return;
    }
    this.closeExplanation();
    const element = h('aside', { class: 'face-panel', 'data-testid': 'face-panel', 'data-track-id': String(trackId), 'aria-live': 'polite' });
    // clicks inside the panel belong to it, not to the tile (which would open the large view)
    element.addEventListener('click', (event) => event.stopPropagation());
    const box = this.faceBoxes.get(trackId)?.element;
    // on the side of the frame away from the face, so the panel does not cover it
    if (box && parseFloat(box.style.left) + parseFloat(box.style.width) / 2 < 50) element.classList.add('right');
    this.panel = { trackId, element, state: null, drawnState: null };
    this.frameBox.append(element);
    box?.classList.add('explained');
    void this.explain(trackId);
  }

  private closeExplanation(): void {
    if (!this.panel) return;
    this.faceBoxes.get(this.panel.trackId)?.element.classList.remove('explained');
    this.panel.element.remove();
    this.panel = null;
  }

  /** Asks the server about a track and fills its panel (if it is still the open one). */
  private async explain(trackId: number): Promise<void> {
    const panel = this.panel;
    if (panel?.trackId !== trackId) return;
    if (panel.state === null) this.fillPanel(panel, [h('p', { class: 'muted' }, 'asking the server…')]);
    panel.state = panel.drawnState ?? 'identifying';
    let reply: ExplainReply;
    try {
      reply = this.explainFace ? await this.explainFace(this.cameraId, trackId) : { ok: false, error: 'explanations are not available on this page' };
    } catch {
      reply = { ok: false, error: 'the server did not answer: is the live connection up?' };
    }
    if (this.panel !== panel) return;
    if (!reply.ok) {
      this.fillPanel(panel, [h('p', { class: 'form-error', 'data-testid': 'face-panel-error' }, reply.error)]);
      return;
    }
    panel.state = reply.explanation.state;
    this.fillPanel(panel, explanationContent(reply.explanation));
  }

  private fillPanel(panel: FacePanel, content: HTMLElement[]): void {
    const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', title: 'Close', 'data-testid': 'face-panel-close' }, '✕');
    close.addEventListener('click', () => this.closeExplanation());
    panel.element.replaceChildren(
      h('header', {}, h('strong', {}, `Track #${panel.trackId}`), close),
      ...content,
      h('p', { class: 'muted gone-note' }, 'this face is no longer on screen'),
    );
  }

  /** The frame's shape, as --aspect on the tile (the frame box and the large view follow it). */
  private setAspect(width: number, height: number): void {
    if (width > 0 && height > 0) this.element.style.setProperty('--aspect', String(width / height));
  }

  /**
   * Whether the camera has failed (the page shows its tile compact, in the strip above the grid).
   * A failed camera that is connecting again ("retry now") stays failed until it is live, so its
   * tile does not jump into the grid and back for each try.
   */
  get failed(): boolean {
    return this.failing;
  }

  private failing = false;

  private async retryNow(restart: TileActions['onRestart']): Promise<void> {
    if (!restart) return;
    this.retryButton.disabled = true;
    const refusal = await restart(this.cameraId);
    this.retryButton.disabled = false;
    this.retryRefusal = refusal;
    this.showState();
  }

  /** Why the last "retry now" was refused, until the camera's state or next retry changes. */
  private retryRefusal: string | null = null;

  private showState(): void {
    let text = this.refusal ?? stateText(this.camera);
    if (text === null && this.framesDrawn === 0) text = 'live: waiting for the first frame…';
    const shown = text !== null;
    this.stateLine.parentElement?.toggleAttribute('hidden', !shown);
    if (this.stateLine.textContent !== (text ?? '')) this.stateLine.textContent = text ?? '';
    const retry = this.retryRefusal ?? retryText(this.camera, this.serverNow());
    this.retryLine.hidden = retry === null;
    if (this.retryLine.textContent !== (retry ?? '')) this.retryLine.textContent = retry ?? '';
    this.retryButton.hidden = !canRetry(this.camera);
  }
}

/** The body of a box's panel: where the identity stands, the best candidates, the margin, and why it is unknown. */
function explanationContent(explanation: FaceExplanation): HTMLElement[] {
  const parts: HTMLElement[] = [h('p', { class: `verdict ${explanation.state}`, 'data-testid': 'face-panel-verdict' }, explanationHeadline(explanation))];
  if (explanation.candidates.length > 0) {
    parts.push(
      h(
        'ol',
        { class: 'candidates', 'aria-label': 'Most similar people' },
        ...explanation.candidates.map((c) =>
          h(
            'li',
            { 'data-testid': 'face-candidate', 'data-label': c.label },
            h('span', {}, c.label),
            ' ',
            h('span', { class: 'score', title: MATCH_SCORE_HINT }, formatScore(c.score)),
          ),
        ),
      ),
    );
  } else {
    parts.push(h('p', { class: 'muted' }, explanation.samples === 0 ? 'not sampled yet: no candidates' : 'no one in the gallery to compare with'));
  }
  if (explanation.margin !== null) parts.push(h('p', { 'data-testid': 'face-panel-margin' }, `margin ${formatMargin(explanation.margin)} between the first two`));
  if (explanation.unknownReason) parts.push(h('p', { class: 'why', 'data-testid': 'face-panel-why' }, `why unknown: ${UNKNOWN_WHY_TEXT[explanation.unknownReason]}`));
  if (explanation.qualityProblem) parts.push(h('p', { class: 'why', 'data-testid': 'face-panel-quality' }, `quality: ${explanation.qualityProblem}`));
  return parts;
}

/**
 * When a camera that is not live tries again, counted down to the server's next retry; what to
 * do when it does not retry by itself; null for a camera that is live, connecting or switched off.
 */
export function retryText(camera: Pick<CameraStatus, 'state' | 'nextRetryAt' | 'enabled'> | undefined, serverNow: number): string | null {
  if (!camera?.enabled || (camera.state !== 'failed' && camera.state !== 'stalled')) return null;
  if (camera.nextRetryAt === null) return camera.state === 'failed' ? 'not retrying by itself: fix the camera (✎), then retry now' : null;
  const seconds = Math.ceil((camera.nextRetryAt - serverNow) / 1000);
  return seconds > 0 ? `retrying in ${seconds} s` : 'retrying now…';
}

/** Whether "retry now" is offered: a camera switched on that is failed or stalled. */
function canRetry(camera: CameraStatus | undefined): boolean {
  return camera?.enabled === true && (camera.state === 'failed' || camera.state === 'stalled');
}

/** A rate as the readouts show it: whole numbers from 10, one decimal below. */
function formatFps(fps: number): string {
  return fps >= 10 ? fps.toFixed(0) : fps.toFixed(1);
}
