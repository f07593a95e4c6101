/**
 * Dashboard load times in Debian's headless Chromium (playwright-core, no browser download; launchChromium is also what
 * test/browser/dashboard.test.ts drives). Each load is a fresh browser context, so nothing is cached: the shell, its modules
 * and the API answers all come over the wire, as for an operator opening the dashboard in a new tab. The function
 * key is put in sessionStorage before the page's scripts run (where the key form would have put it), and a
 * MutationObserver installed with it stamps `performance.now()` (milliseconds since navigation start) when the
 * awaited element first appears.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** dashboard/api.js's sessionStorage entry. */
const KEY_NAME = 'twinguard.functionKey';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The page script (a string: this project compiles without the DOM library). */
function initScript(key: string, selector: string): string {
  return `(() => {
  if (!location.pathname.startsWith('/api/dashboard')) return;
  sessionStorage.setItem(${JSON.stringify(KEY_NAME)}, ${JSON.stringify(key)});
  const selector = ${JSON.stringify(selector)};
  const observer = new MutationObserver(() => {
    if (document.querySelector(selector)) {
      window.__renderedAt = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true });
})();`;
}

export interface PageLoad {
  /** Navigation start to the element's appearance, ms. */
  ms: number;
  /** When the page sent its data call (navigation start to request start) and how long the answer took, ms (Resource Timing). */
  dataCall: { startMs: number; durationMs: number };
  /** textContent of `readText` once the element appeared (to check the page shows the API's figures). */
  text: string | null;
  /** How many elements match the awaited selector. */
  count: number;
}

/**
 * Opens `url` in a new context with the key in sessionStorage and waits for `selector`. Console errors or page
 * errors fail the load: a measurement of an error page is no measurement.
 */
export async function loadPage(
  browser: Browser,
  url: string,
  options: { key: string; selector: string; readText: string; dataPath: string },
): Promise<PageLoad> {
  const { key, selector, readText, dataPath } = options;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await context.addInitScript({ content: initScript(key, selector) });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector(selector, { timeout: 60_000 });
    const ms = await page.evaluate<number | undefined>('window.__renderedAt');
    if (typeof ms !== 'number') throw new Error(`no render time stamped for ${selector} at ${url}`);
    if (errors.length > 0) throw new Error(`the page logged errors: ${errors.join('; ')}`);
    const dataCall = await page.evaluate<{ startMs: number; durationMs: number } | undefined>(
      `(() => {
        const entry = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === ${JSON.stringify(dataPath)});
        return entry && { startMs: entry.startTime, durationMs: entry.responseEnd - entry.startTime };
      })()`,
    );
    if (!dataCall) throw new Error(`the page at ${url} made no call to ${dataPath}`);
    return { ms, dataCall, text: await page.textContent(readText), count: await page.locator(selector).count() };
  } finally {
    await context.close();
  }
}
