/**
 * The Settings page (#/settings): how facestream's integrations are doing, from GET
 * /api/integrations every REFRESH_MS while the page is shown (nothing is fetched while it is
 * hidden). Each integration has its own section in #settings-sections; `addSection` gives
 * another part of the app (the notifications editor) a section of its own to render into.
 */
import { getIntegrations, type MqttState } from './api.js';
import { byId, h } from './dom.js';
import { Poller } from './poller.js';

const REFRESH_MS = 2000;

export class SettingsPage {
  private readonly sections: HTMLElement;
  private readonly mqtt = byId('settings-mqtt', HTMLTableSectionElement);
  private readonly updated = byId('settings-updated', HTMLElement);
  private readonly error = byId('settings-error', HTMLElement);
  private readonly poller = new Poller(REFRESH_MS, getIntegrations, (result) => {
    if (result.ok) {
      this.error.textContent = '';
      this.renderMqtt(result.value.mqtt);
      this.updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } else {
      this.error.textContent = result.error;
    }
  });

  constructor(root: HTMLElement) {
    this.sections = byId('settings-sections', HTMLElement);
    if (!root.contains(this.sections)) throw new Error('index.html: #settings-sections belongs in the Settings page');
  }

  /** A new section at the end of the page, titled `title`, for another part to render into (returns its body). */
  addSection(title: string, testId: string): HTMLElement {
    const body = h('div', { class: 'settings-section-body' });
    const heading = h('h3', { class: 'section-title', id: `${testId}-title` }, title);
    this.sections.append(h('section', { class: 'settings-section', 'data-testid': testId, 'aria-labelledby': heading.id }, heading, body));
    return body;
  }

  /** Shown or hidden by the app's router. */
  setActive(active: boolean): void {
    this.poller.setActive(active);
  }

  private renderMqtt(mqtt: MqttState): void {
    const state = !mqtt.enabled ? 'off' : mqtt.connected ? 'connected' : 'disconnected';
    const stateText = mqtt.enabled ? state : 'off: no broker configured (set mqtt.url in the config, or FACESTREAM_MQTT_URL)';
    const rows: [string, string, string][] = [
      ['state', 'State', stateText],
      ['url', 'Broker', mqtt.url ?? '–'],
      ['lastError', 'Last error', mqtt.lastError ?? '–'],
      ['queued', 'Event messages waiting', String(mqtt.queued)],
      ['dropped', 'Dropped (queue full)', String(mqtt.dropped)],
    ];
    this.mqtt.replaceChildren(
      ...rows
        .filter(([field]) => mqtt.enabled || field === 'state')
        .map(([field, name, value]) =>
          h('tr', {}, h('th', { scope: 'row' }, name), h('td', { 'data-field': field, ...(field === 'state' ? { 'data-state': state } : {}) }, value)),
        ),
    );
  }
}
