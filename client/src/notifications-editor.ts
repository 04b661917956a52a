/**
 * The notifications editor: the webhook rules as GET /api/notifications shows them (secrets
 * masked), each with its outbox state (notifications waiting, the last error), editable in
 * place, with rules added and removed, and all saved at once with PUT /api/notifications. A
 * secret left as shown keeps the saved one; the server checks everything and its refusal is
 * shown as it words it. Renders into any element: the Settings page mounts it.
 */
import { getNotifications, saveNotifications, type NotificationRuleInput, type NotificationRuleView, type Notifications } from './api.js';
import { h } from './dom.js';

export interface NotificationsEditor {
  /** Loads the rules from the server again (what is not saved is dropped). */
  reload(): Promise<void>;
}

/** A comma-separated list as the inputs hold it. */
const listText = (values: readonly string[]) => values.join(', ');
const listOf = (text: string) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

function stateText(state: NotificationRuleView['state']): string {
  const parts = [`${state.pending} waiting`];
  if (state.lastError) parts.push(`last error: ${state.lastError}${state.lastErrorAt ? ` (${new Date(state.lastErrorAt).toLocaleString()})` : ''}`);
  if (state.lastDeliveredAt) parts.push(`last delivered ${new Date(state.lastDeliveredAt).toLocaleString()}`);
  return parts.join(' · ');
}

function input(name: string, label: string, value: string, attributes: Record<string, string> = {}): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', {}, label), h('input', { name, value, ...attributes }));
}

/** One rule's fieldset; `shown` is the rule as the server has it, or null for a new one. */
function ruleFieldset(shown: NotificationRuleView | null, onRemove: (fieldset: HTMLFieldSetElement) => void): HTMLFieldSetElement {
  const method = h('select', { name: 'method' }, h('option', { value: 'POST' }, 'POST'), h('option', { value: 'PUT' }, 'PUT'));
  method.value = shown?.webhook.method ?? 'POST';
  const onEnd = h('input', { name: 'onEnd', type: 'checkbox' });
  onEnd.checked = shown?.onEnd ?? false;
  const remove = h('button', { type: 'button', class: 'secondary', 'data-testid': 'remove-rule' }, 'Remove');
  const fieldset = h(
    'fieldset',
    { class: 'notification-rule', 'data-testid': 'notification-rule' },
    h('legend', {}, shown ? shown.name : 'New rule'),
    input('name', 'Name', shown?.name ?? '', { required: '', maxlength: '64', placeholder: 'front door' }),
    input('people', 'People (names, "unknown" or "*")', listText(shown?.when.people ?? ['*']), { placeholder: 'ann, unknown' }),
    input('cameras', 'Cameras (empty: all)', listText(shown?.when.cameras ?? []), { placeholder: 'door, garden' }),
    input('minScore', 'Least score of a person', String(shown?.when.minScore ?? 0), { type: 'number', min: '0', max: '1', step: '0.01' }),
    input('url', 'Webhook URL', shown?.webhook.url ?? '', { type: 'url', required: '', placeholder: 'https://home.example.org/api/webhook/facestream' }),
    h('label', { class: 'field' }, h('span', {}, 'Method'), method),
    // the mask as the server showed it: sent back unchanged, it keeps the saved secret
    input('secret', 'Secret (16 characters or more)', shown?.webhook.secret ?? '', { type: 'password', required: '', autocomplete: 'new-password' }),
    input('cooldownS', 'Cooldown, s', String(shown?.cooldownS ?? 60), { type: 'number', min: '0', max: '86400', step: '1' }),
    h('label', { class: 'field checkbox' }, onEnd, h('span', {}, 'Also when the event ends')),
    h('p', { class: 'muted', 'data-testid': 'rule-state' }, shown ? stateText(shown.state) : 'not saved yet'),
    remove,
  );
  remove.addEventListener('click', () => onRemove(fieldset));
  return fieldset;
}

/** The rule a fieldset holds, as PUT takes it; numbers the browser cannot read are sent as they are, for the server to refuse by name. */
function ruleOf(fieldset: HTMLFieldSetElement): NotificationRuleInput {
  const value = (name: string) => {
    const element = fieldset.elements.namedItem(name);
    return element instanceof HTMLInputElement || element instanceof HTMLSelectElement ? element.value : '';
  };
  const checked = (name: string) => {
    const element = fieldset.elements.namedItem(name);
    return element instanceof HTMLInputElement && element.checked;
  };
  const people = listOf(value('people'));
  return {
    name: value('name').trim(),
    when: { people: people.length > 0 ? people : ['*'], cameras: listOf(value('cameras')), minScore: Number(value('minScore') || '0') },
    webhook: { url: value('url').trim(), method: value('method') === 'PUT' ? 'PUT' : 'POST', secret: value('secret') },
    cooldownS: Number(value('cooldownS') || '0'),
    onEnd: checked('onEnd'),
  };
}

/** Renders the editor into `root` (replacing what it holds) and loads the rules. */
export function renderNotificationsEditor(root: HTMLElement): NotificationsEditor {
  const rules = h('div', { class: 'notification-rules', 'data-testid': 'notification-rules' });
  const source = h('p', { class: 'muted', 'data-testid': 'notifications-source' });
  const status = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'notifications-error' });
  const saved = h('p', { class: 'muted', role: 'status', 'data-testid': 'notifications-saved' });
  const add = h('button', { type: 'button', class: 'secondary', 'data-testid': 'add-rule' }, 'Add rule');
  const save = h('button', { type: 'submit', 'data-testid': 'save-rules' }, 'Save rules');
  const form = h(
    'form',
    { class: 'notifications-editor', 'data-testid': 'notifications-editor', autocomplete: 'off', novalidate: '' },
    h('p', {}, 'A rule sends one signed webhook (X-Facestream-Signature) when an event it matches starts; a person on a camera is notified again only after its cooldown.'),
    source,
    rules,
    h('div', { class: 'actions' }, add, save),
    status,
    saved,
  );
  root.replaceChildren(form);

  const removeRule = (fieldset: HTMLFieldSetElement) => fieldset.remove();
  const show = (notifications: Notifications) => {
    source.textContent =
      notifications.source === 'database'
        ? 'These rules were saved here and are used instead of the config file’s.'
        : 'These rules come from the config file; saving here takes over from it.';
    rules.replaceChildren(...notifications.rules.map((rule) => ruleFieldset(rule, removeRule)));
    if (notifications.rules.length === 0) rules.append(h('p', { class: 'muted', 'data-testid': 'no-rules' }, 'No rule yet.'));
  };

  const reload = async () => {
    const result = await getNotifications();
    if (result.ok) {
      status.textContent = '';
      show(result.value);
    } else {
      status.textContent = result.error;
    }
  };

  add.addEventListener('click', () => {
    rules.querySelector('[data-testid="no-rules"]')?.remove();
    const fieldset = ruleFieldset(null, removeRule);
    rules.append(fieldset);
    fieldset.querySelector('input')?.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fieldsets = [...rules.querySelectorAll('fieldset')];
    save.disabled = true;
    saved.textContent = '';
    void saveNotifications(fieldsets.map(ruleOf)).then((result) => {
      save.disabled = false;
      if (!result.ok) {
        status.textContent = result.error;
        return;
      }
      status.textContent = '';
      saved.textContent = `Saved ${result.value.rules.length} rule(s).`;
      show(result.value);
    });
  });

  void reload();
  return { reload };
}
