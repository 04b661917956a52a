/**
 * Debian chromium for the browser tests against a real server: how it is started, and a page
 * that gathers every error it shows (uncaught exceptions, console errors, HTTP 400+), so a test
 * can assert that there were none but the failures it provoked on purpose.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface WatchedPage {
  browser: Browser;
  page: Page;
  /** Every error the page showed, except those matching `expectedFailures`. */
  pageErrors: string[];
  /** Failures a test provokes on purpose (push a pattern before provoking one). */
  expectedFailures: RegExp[];
}

export async function openWatchedPage(viewport: { width: number; height: number }, timeoutMs: number): Promise<WatchedPage> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(timeoutMs);
  const pageErrors: string[] = [];
  const expectedFailures: RegExp[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const report = (line: string): void => {
    if (!expectedFailures.some((expected) => expected.test(line))) pageErrors.push(line);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') report(`${message.text()} (${message.location().url})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) report(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
  });
  return { browser, page, pageErrors, expectedFailures };
}
