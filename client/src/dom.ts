/** A small element builder: attributes as strings, children as nodes or text (never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') element.className = value;
    else element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/** The element with `id`, or an error naming it (the page is missing a part it must have). */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`index.html has no <${type.name}> with id "${id}"`);
  return element;
}

/** The first element under `root` that `selector` matches, or an error naming it (the page is missing a part it must have). */
export function query<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`index.html has no <${type.name}> at "${selector}"`);
  return element;
}

/** Replaces a select's options after its first (the "any" choice), keeping the chosen value when it is still offered. */
export function fillSelect(select: Element | RadioNodeList | null, values: string[]): void {
  if (!(select instanceof HTMLSelectElement)) return;
  const chosen = select.value;
  const first = select.options.item(0);
  select.replaceChildren(...(first ? [first] : []), ...values.map((value) => h('option', { value }, value)));
  if (chosen && !values.includes(chosen)) select.append(h('option', { value: chosen }, chosen));
  select.value = chosen;
}
