/**
 * The live page: over the app's `/live` connection, keeps one tile per configured camera, and
 * watches each while the page is shown. The camera list comes from GET /api/cameras and from
 * the server's `status` message every second; after a reconnect (a server restart) every shown
 * camera is watched again and the list re-fetched.
 *
 * The grid is laid out as this browser was last told (grid-layout.ts): the tile size, and the
 * order, changed by dragging a tile or with Alt+arrow keys on a focused one. Failed cameras
 * leave the grid for a strip of compact tiles above it, and come back to their place when live.
 */
import type { Socket } from '/socket.io/socket.io.esm.min.js';
import type { CameraStatus, ExplainReply, LiveClientEvents, FrameMessage, LiveServerEvents } from '../../src/common/live-events.js';
import { addCamera, listCameras, removeCamera, restartCamera, updateCamera } from './api.js';
import { cameraUrlProblem } from './camera-url.js';
import { CameraEditDialog } from './camera-edit.js';
import { byId, h } from './dom.js';
import { TILE_SIZES, arrangedOrder, moveBeside, moveStep, saveOrder, saveTileSize, savedOrder, savedTileSize } from './grid-layout.js';
import { CameraTile } from './tile.js';

export type LiveSocket = Socket<LiveServerEvents, LiveClientEvents>;
type ConnectionState = 'connecting' | 'connected' | 'disconnected';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  disconnected: 'reconnecting…',
};

/** How long to wait before connecting again after the server closed the connection itself. */
const SERVER_CLOSED_RETRY_MS = 1000;
/**
 * A tile asks for another JPEG width once its own has changed by more than this share: the
 * server's width steps are 20-33% apart, so a smaller change seldom changes what it sends.
 */
const REWATCH_CHANGE = 0.15;
/** How long a box's panel waits for the server's explanation. */
const EXPLAIN_TIMEOUT_MS = 5000;

export class LivePage {
  private readonly tiles = new Map<string, CameraTile>();
  /** The JPEG width each watched camera was last asked for (absent: not watched on this connection). */
  private readonly askedWidths = new Map<string, number | null>();
  private readonly cameras = new Map<string, CameraStatus>();
  private readonly grid = byId('grid', HTMLElement);
  private readonly failedStrip = byId('failed-cameras', HTMLElement);
  private readonly gridTools = byId('grid-tools', HTMLElement);
  private readonly tileSize = byId('tile-size', HTMLSelectElement);
  /** The camera ids as last arranged in this browser (see grid-layout.ts). */
  private order = savedOrder();
  /** The camera being dragged, while a drag is on. */
  private dragged: string | null = null;
  /** The server's clock minus this browser's, from the status messages (a camera's nextRetryAt is on the server's). */
  private clockOffset = 0;
  private readonly empty = byId('empty', HTMLElement);
  private readonly connection = byId('connection', HTMLElement);
  private readonly form = byId('add-camera', HTMLFormElement);
  private readonly formError = byId('add-camera-error', HTMLElement);
  private readonly back = byId('back', HTMLButtonElement);
  private readonly editDialog = new CameraEditDialog((camera) => this.setCamera(camera));
  private reconnectTimer: number | undefined;
  /** Whether the large view was opened by a click here (so leaving it is a step back in history). */
  private openedHere = false;
  /** Whether the live page is the one shown (cameras are watched only then). */
  private active = true;

  constructor(private readonly socket: LiveSocket) {
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('disconnect', (reason) => {
      this.askedWidths.clear(); // the server forgets the watches with the connection
      this.setConnection('disconnected');
      // socket.io retries by itself after a lost connection, but not after the server closed it
      // (a graceful shutdown disconnects every viewer): retry then too, as after a restart
      if (reason === 'io server disconnect') this.reconnectLater();
    });
    this.socket.io.on('reconnect_attempt', () => this.setConnection('disconnected'));
    this.socket.on('connect_error', () => this.setConnection('disconnected'));
    this.socket.on('status', (status) => {
      this.clockOffset = status.ts - Date.now();
      this.setCameras(status.cameras);
    });
    this.socket.on('frame', (frame, drawn) => this.onFrame(frame, drawn));
    // a refused watch (the camera was deleted meanwhile, or too many are watched): shown on its tile
    this.socket.on('error', (error) => {
      if (error.cameraId !== undefined) this.tiles.get(error.cameraId)?.showError(error.message);
    });

    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submitCamera();
    });
    this.back.addEventListener('click', () => this.showGrid());
    this.tileSize.value = savedTileSize();
    this.grid.dataset.tileSize = this.tileSize.value;
    this.tileSize.addEventListener('change', () => {
      const size = TILE_SIZES.find((candidate) => candidate === this.tileSize.value) ?? 'medium';
      this.grid.dataset.tileSize = size;
      saveTileSize(size);
    });
    window.addEventListener('hashchange', () => {
      if (this.active) this.applyView();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.focusedId() !== null) this.showGrid();
    });
    setInterval(() => {
      const now = performance.now();
      for (const tile of this.tiles.values()) tile.tick(now);
    }, 500);

    this.setConnection('connecting');
    this.render();
    void this.refresh();
  }

  private onConnect(): void {
    this.setConnection('connected');
    // a new connection (first, or after a server restart) has no watches on the server's side
    this.askedWidths.clear();
    if (this.active) for (const cameraId of this.tiles.keys()) this.watch(cameraId);
    void this.refresh();
  }

  /**
   * Shown or hidden by the app's router: a hidden live page stops watching its cameras, so no
   * frames are sent and decoded for nobody; shown again, it watches them all.
   */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    if (active) {
      // shown first, so that each tile has its size when its watch asks for a width
      this.applyView();
      if (this.canSend()) for (const cameraId of this.tiles.keys()) this.watch(cameraId);
      void this.refresh();
    } else if (this.canSend()) {
      for (const cameraId of this.tiles.keys()) this.unwatch(cameraId);
    }
  }

  /**
   * Whether a message can go out now. `connected` stays true until socket.io has seen the
   * WebSocket close, but a server that stops sends its close first: from then the socket is
   * CLOSING, and a send (a frame's ack finishing its decode, a watch after a resize) only makes
   * the browser log "WebSocket is already in CLOSING or CLOSED state".
   */
  private canSend(): boolean {
    if (!this.socket.connected) return false;
    const transport = (this.socket.io.engine as { transport?: { ws?: { readyState: number } } } | undefined)?.transport;
    return transport?.ws === undefined || transport.ws.readyState === WebSocket.OPEN;
  }

  /** Watches a camera at its tile's width (the server sends JPEGs at most that wide). */
  private watch(cameraId: string): void {
    const maxWidth = this.tiles.get(cameraId)?.wantedWidth() ?? null;
    this.askedWidths.set(cameraId, maxWidth);
    this.socket.emit('watch', maxWidth === null ? { cameraId } : { cameraId, maxWidth });
  }

  private unwatch(cameraId: string): void {
    this.askedWidths.delete(cameraId);
    this.socket.emit('unwatch', { cameraId });
  }

  /** A tile was resized (the window, the large view): a watch again with its new width, when that changed enough. */
  private resized(cameraId: string): void {
    if (!this.active || !this.canSend() || !this.askedWidths.has(cameraId)) return;
    const asked = this.askedWidths.get(cameraId) ?? null;
    const wanted = this.tiles.get(cameraId)?.wantedWidth() ?? null;
    if (wanted === null || wanted === asked) return;
    if (asked !== null && Math.abs(wanted - asked) <= asked * REWATCH_CHANGE) return;
    this.watch(cameraId);
  }

  /** What the server's matcher made of a box (the tile's panel). */
  private explain(cameraId: string, trackId: number): Promise<ExplainReply> {
    if (!this.canSend()) return Promise.resolve({ ok: false, error: 'no live connection: wait until it is back, then click the box again' });
    return this.socket.timeout(EXPLAIN_TIMEOUT_MS).emitWithAck('explain', { cameraId, trackId });
  }

  private reconnectLater(): void {
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = window.setTimeout(() => {
      if (!this.socket.active) this.socket.connect();
    }, SERVER_CLOSED_RETRY_MS);
  }

  private onFrame(frame: FrameMessage, drawn: () => void): void {
    // a frame drawn after its connection closed (the server restarted meanwhile) is acknowledged to
    // nobody: the viewer state it would release went with the connection, and sending on the closed
    // WebSocket only makes the browser log an error
    const ack = () => {
      if (this.canSend()) drawn();
    };
    const tile = this.tiles.get(frame.cameraId);
    if (tile) tile.receive(frame, ack);
    else ack(); // a camera this page no longer shows: release the server's window
  }

  private async refresh(): Promise<void> {
    const result = await listCameras();
    if (result.ok) this.setCameras(result.value);
  }

  /** The full list of cameras, from the REST API or a status message. */
  private setCameras(cameras: CameraStatus[]): void {
    this.cameras.clear();
    for (const camera of cameras) this.cameras.set(camera.id, camera);
    this.render();
  }

  private render(): void {
    for (const [id, tile] of this.tiles) {
      if (this.cameras.has(id)) continue;
      tile.close();
      this.tiles.delete(id);
      if (this.canSend()) this.unwatch(id);
    }
    const added: string[] = [];
    for (const camera of this.cameras.values()) {
      let tile = this.tiles.get(camera.id);
      if (!tile) {
        tile = this.createTile(camera.id);
        added.push(camera.id);
      }
      tile.update(camera);
    }
    this.empty.hidden = this.cameras.size > 0;
    this.grid.hidden = this.cameras.size === 0;
    this.gridTools.hidden = this.cameras.size === 0;
    this.arrange();
    this.applyView();
    // once laid out, so that each watch asks for the tile's width
    if (this.canSend() && this.active) for (const cameraId of added) this.watch(cameraId);
  }

  private createTile(cameraId: string): CameraTile {
    const tile = new CameraTile(cameraId, (id) => void this.remove(id), {
      onEdit: (id) => {
        const camera = this.cameras.get(id);
        if (camera) this.editDialog.open(camera);
      },
      onToggle: (id, enabled) => void this.switchCamera(id, enabled),
      onResize: (id) => this.resized(id),
      onExplain: (id, trackId) => this.explain(id, trackId),
      onRestart: (id) => this.restart(id),
      onMove: (id, step) => this.moveTile(id, step),
      serverNow: () => Date.now() + this.clockOffset,
    });
    tile.element.addEventListener('click', () => this.toggleFocus(cameraId));
    tile.element.addEventListener('keydown', (event) => {
      if (event.target !== tile.element) return;
      // Alt+arrow moves the tile in the grid's order (left and up: earlier)
      if (event.altKey && ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(event.key)) {
        event.preventDefault();
        this.moveTile(cameraId, event.key === 'ArrowLeft' || event.key === 'ArrowUp' ? -1 : 1);
        return;
      }
      if (event.key !== 'Enter' && event.key !== ' ') return;
      event.preventDefault();
      this.toggleFocus(cameraId);
    });
    this.listenForDrags(tile);
    this.tiles.set(cameraId, tile);
    return tile;
  }

  /** The ids of the grid's tiles (failed cameras are in the strip), in the order shown. */
  private gridOrder(): string[] {
    return arrangedOrder(this.order, [...this.cameras.keys()]).filter((id) => this.inGrid(id));
  }

  private inGrid(cameraId: string): boolean {
    const tile = this.tiles.get(cameraId);
    return tile !== undefined && (!tile.failed || this.focusedId() === cameraId);
  }

  /** Puts each tile in its place: the grid in the arranged order, a failed camera in the strip. Moves only what is out of place. */
  private arrange(): void {
    const ids = arrangedOrder(this.order, [...this.cameras.keys()]);
    for (const [container, wanted] of [
      [this.grid, ids.filter((id) => this.inGrid(id))],
      [this.failedStrip, ids.filter((id) => !this.inGrid(id))],
    ] as const) {
      wanted.forEach((id, index) => {
        const element = this.tiles.get(id)?.element;
        if (element && container.children.item(index) !== element) container.insertBefore(element, container.children.item(index));
      });
    }
    this.failedStrip.hidden = this.failedStrip.children.length === 0 || document.body.dataset.view === 'single';
  }

  private moveTile(cameraId: string, step: -1 | 1): void {
    this.setOrder(moveStep(this.order, this.gridOrder(), cameraId, step));
    this.tiles.get(cameraId)?.element.focus();
  }

  private setOrder(order: string[]): void {
    this.order = order;
    saveOrder(order);
    this.arrange();
  }

  /** Drag and drop between the grid's tiles: dropped on a tile's left half, before it; on its right half, after it. */
  private listenForDrags(tile: CameraTile): void {
    const element = tile.element;
    element.addEventListener('dragstart', (event) => {
      if (!this.inGrid(tile.cameraId) || document.body.dataset.view === 'single') {
        event.preventDefault();
        return;
      }
      this.dragged = tile.cameraId;
      event.dataTransfer?.setData('text/plain', tile.cameraId);
      if (event.dataTransfer) event.dataTransfer.effectAllowed = 'move';
      element.classList.add('dragging');
    });
    element.addEventListener('dragend', () => {
      this.dragged = null;
      element.classList.remove('dragging');
      for (const other of this.tiles.values()) other.element.classList.remove('drop-before', 'drop-after');
    });
    const after = (event: DragEvent) => {
      const rect = element.getBoundingClientRect();
      return event.clientX > rect.left + rect.width / 2;
    };
    element.addEventListener('dragover', (event) => {
      if (this.dragged === null || this.dragged === tile.cameraId || !this.inGrid(tile.cameraId)) return;
      event.preventDefault(); // a drop is allowed here
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
      element.classList.toggle('drop-after', after(event));
      element.classList.toggle('drop-before', !after(event));
    });
    element.addEventListener('dragleave', () => element.classList.remove('drop-before', 'drop-after'));
    element.addEventListener('drop', (event) => {
      const dragged = this.dragged;
      element.classList.remove('drop-before', 'drop-after');
      if (dragged === null || dragged === tile.cameraId) return;
      event.preventDefault();
      const full = arrangedOrder(this.order, [...this.cameras.keys()]).concat(this.order.filter((id) => !this.cameras.has(id)));
      this.setOrder(moveBeside(full, dragged, tile.cameraId, after(event)));
    });
  }

  /** "Retry now" on a tile: the server restarts the camera; the tile shows its new status, or the refusal. */
  private async restart(cameraId: string): Promise<string | null> {
    const result = await restartCamera(cameraId);
    if (!result.ok) return `retry refused: ${result.error}`;
    this.setCamera(result.value);
    return null;
  }

  private async submitCamera(): Promise<void> {
    const data = new FormData(this.form);
    // both are text inputs, so their entries are strings (a File only comes from a file input)
    const text = (name: string) => {
      const value = data.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const id = text('id');
    const url = text('url');
    // a URL the server would refuse is not sent: the user reads what is wrong at once
    const problem = cameraUrlProblem(url);
    if (problem) {
      this.formError.textContent = problem;
      this.form.classList.add('failed');
      return;
    }
    const submit = this.form.querySelector('button[type="submit"]');
    if (submit instanceof HTMLButtonElement) submit.disabled = true;
    this.formError.textContent = '';
    this.form.classList.remove('failed');
    const result = await addCamera({ id, url });
    if (submit instanceof HTMLButtonElement) submit.disabled = false;
    if (!result.ok) {
      this.formError.textContent = result.error;
      this.form.classList.add('failed');
      return;
    }
    this.form.reset();
    this.setCamera(result.value);
  }

  /** One camera as the server now has it (after an add, an edit, a switch). */
  private setCamera(camera: CameraStatus): void {
    this.cameras.set(camera.id, camera);
    this.render();
  }

  private async switchCamera(cameraId: string, enabled: boolean): Promise<void> {
    const result = await updateCamera(cameraId, { enabled });
    if (!result.ok) {
      window.alert(`Camera "${cameraId}" could not be switched ${enabled ? 'on' : 'off'}: ${result.error}`);
      this.render(); // the switch goes back to what the server has
      return;
    }
    this.setCamera(result.value);
  }

  private async remove(cameraId: string): Promise<void> {
    const fromFile = this.cameras.get(cameraId)?.origin === 'file';
    const warning = fromFile ? ' It comes from the config file, so it comes back at the next start unless it is removed there too; switching it off lasts.' : '';
    if (!window.confirm(`Remove camera "${cameraId}"? It stops being recorded and recognised.${warning}`)) return;
    const result = await removeCamera(cameraId);
    if (!result.ok) {
      window.alert(result.error);
      return;
    }
    this.cameras.delete(cameraId);
    this.render();
  }

  // --- single (large) view, kept in the URL hash so the browser's back button leaves it

  private focusedId(): string | null {
    const match = /^#\/camera\/(.+)$/.exec(window.location.hash);
    if (!match) return null;
    try {
      return decodeURIComponent(match[1]);
    } catch {
      return null;
    }
  }

  private toggleFocus(cameraId: string): void {
    if (this.focusedId() === cameraId) {
      this.showGrid();
      return;
    }
    this.openedHere = this.focusedId() === null;
    window.location.hash = `#/camera/${encodeURIComponent(cameraId)}`;
  }

  private showGrid(): void {
    if (this.openedHere) {
      // the large view was opened from the grid: going back is the browser's back
      history.back();
      return;
    }
    if (window.location.hash) history.replaceState(null, '', window.location.pathname + window.location.search);
    this.applyView();
  }

  private applyView(): void {
    const focused = this.focusedId();
    const single = focused !== null && this.tiles.has(focused);
    document.body.dataset.view = single ? 'single' : 'grid';
    if (!single) this.openedHere = false;
    this.back.hidden = !single;
    for (const [id, tile] of this.tiles) {
      tile.element.classList.toggle('focused', single && id === focused);
      tile.element.hidden = single && id !== focused;
    }
    this.gridTools.classList.toggle('in-single-view', single);
    this.arrange(); // a failed camera's large view is in the grid's place
  }

  private setConnection(state: ConnectionState): void {
    if (this.connection.dataset.state === state && this.connection.childNodes.length > 1) return;
    this.connection.dataset.state = state;
    this.connection.replaceChildren(h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'connection-text' }, CONNECTION_TEXT[state]));
    this.connection.title = state === 'connected' ? 'live connection to the server' : 'no live connection; retrying by itself';
  }
}
