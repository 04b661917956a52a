/**
 * On a narrow screen a page's filter form folds behind a "Filters" button, so the list it
 * filters starts on the first screen; the button says how many filters are set. On a wide
 * screen the stylesheet hides the button and always shows the form (client/styles.css,
 * `.filters-toggle`), whatever the fold's state.
 */
export function foldFilters(button: HTMLButtonElement, form: HTMLFormElement): void {
  const label = () => {
    const set = [...form.elements].filter((field) => (field instanceof HTMLSelectElement || field instanceof HTMLInputElement) && field.value !== '').length;
    button.textContent = set === 0 ? 'Filters' : `Filters (${set})`;
  };
  button.setAttribute('aria-controls', form.id);
  button.setAttribute('aria-expanded', 'false');
  button.addEventListener('click', () => {
    const open = !form.classList.contains('open');
    form.classList.toggle('open', open);
    button.setAttribute('aria-expanded', String(open));
    if (open) form.querySelector<HTMLElement>('select, input')?.focus();
  });
  form.addEventListener('input', label);
  form.addEventListener('change', label);
  // a reset changes the fields after its event: count them once it is done
  form.addEventListener('reset', () => window.setTimeout(label, 0));
  label();
}
