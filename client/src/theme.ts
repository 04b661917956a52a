/**
 * The colour theme: "auto" follows the system's prefers-color-scheme, "light" and "dark" hold
 * whatever the system says. The choice is html[data-theme] (absent for auto), which the
 * stylesheet's custom properties follow (client/styles.css), and it is kept per browser.
 */

export const THEMES = ['auto', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

// the login page's script (src/server/auth.ts LOGIN_SCRIPT) reads the same key: the choice holds there too
const THEME_KEY = 'facestream.theme';

export function savedTheme(): Theme {
  let saved: string | null = null;
  try {
    saved = window.localStorage.getItem(THEME_KEY);
  } catch {
    // storage refused: auto
  }
  return THEMES.find((theme) => theme === saved) ?? 'auto';
}

export function applyTheme(theme: Theme): void {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/** Wires the header's theme select: shows the saved choice, applies and keeps a new one. */
export function setUpThemeSwitch(select: HTMLSelectElement): void {
  const theme = savedTheme();
  applyTheme(theme);
  select.value = theme;
  select.addEventListener('change', () => {
    const chosen = THEMES.find((candidate) => candidate === select.value) ?? 'auto';
    applyTheme(chosen);
    try {
      window.localStorage.setItem(THEME_KEY, chosen);
    } catch {
      // storage refused: the choice lasts as long as the page
    }
  });
}
