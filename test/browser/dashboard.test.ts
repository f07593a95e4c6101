/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core (no browser download),
 * against the embedded stack (Azurite, the IoT Hub emulator, the standalone host) with a seeded fleet. The figures
 * on screen are checked against the API's own answers; device-supplied strings must render as inert text.
 * Screenshots of each page go to docs/screenshots/ (the README shows them).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { EmbeddedTwinGuard } from '../../host/embedded';
import type { Logger } from '../../shared/logger';
import { CHROMIUM, launchChromium } from '../../testing/dashboard-browser';

/** The page's document, inside page.waitForFunction callbacks (this project compiles without the DOM library). */
declare function getComputedStyle(element: Element): { outlineStyle: string };
declare interface Element {
  readonly tagName: string;
}
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
};

const SCREENSHOTS = path.join(__dirname, '..', '..', 'docs', 'screenshots');
const XSS = '<img src=x onerror=alert(1)>';
const QUOTED_DEVICE = "line-4'o'brien";
const MODULE = 'DefenderIotMicroAgent';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;
// Skipped on a development machine without Debian's Chromium; .ci/run installs it and requires the run.
if (!existsSync(CHROMIUM) && process.env['TWINGUARD_BROWSER_REQUIRED'] === '1')
  throw new Error(`${CHROMIUM} is missing: apt-get install chromium (the dashboard's browser tests need it)`);
const describeInBrowser = existsSync(CHROMIUM) ? describe : describe.skip;

describeInBrowser('dashboard in headless Chromium', () => {
  let system: EmbeddedTwinGuard;
  let browser: Browser;
  let page: Page;
  let api: string;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  async function call<T>(route: string, init: RequestInit = {}): Promise<T> {
    const response = await fetch(`${api}/api/${route}`, {
      ...init,
      headers: { 'x-functions-key': system.functionKey, 'content-type': 'application/json' },
    });
    if (!response.ok) throw new Error(`${route} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  }

  async function sweep(dryRun: boolean): Promise<void> {
    const { sweepId } = await call<{ sweepId: string }>('sweeps', { method: 'POST', body: JSON.stringify({ dryRun }) });
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const run = await call<{ status: string }>(`sweeps/${encodeURIComponent(sweepId)}`);
      if (run.status === 'completed') return;
      if (run.status === 'failed') throw new Error(`sweep ${sweepId} failed`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`sweep ${sweepId} did not complete`);
  }

  async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      if (await condition()) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async function open(hash: string, ready: string): Promise<void> {
    await page.goto(`${api}/api/dashboard/#/${hash}`);
    await page.waitForSelector(ready);
  }

  beforeAll(async () => {
    system = await EmbeddedTwinGuard.start({ seedDevices: 80, demoDevices: 0, demoIntervalMs: 60_000, httpPort: 0, logger: quiet });
    api = system.host.httpUrl ?? '';
    // Every module TwinGuard creates from now on gets an agent that rejects its configuration: agent-failed findings.
    system.hub.agents.setDefaultMode('rejectConfiguration');
    system.hub.registry.createDevice({ deviceId: QUOTED_DEVICE });
    await until(() => Promise.resolve(system.hub.registry.findTwin(QUOTED_DEVICE, MODULE) !== undefined), 'the quoted device’s module');
    system.hub.devices.setReported(QUOTED_DEVICE, { Process_Mode: XSS }, MODULE);
    await until(async () => {
      const posture = await call<{ reported?: Record<string, unknown> }>(`devices/${encodeURIComponent(QUOTED_DEVICE)}/posture`).catch(
        () => undefined,
      );
      return JSON.stringify(posture ?? {}).includes('onerror');
    }, 'the XSS report in the posture');
    await sweep(false);
    await sweep(true);
    await sweep(false);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const started = Date.now();
    await page.goto(`${api}/api/dashboard/`);
    await page.fill('#key-input', system.functionKey);
    await page.press('#key-input', 'Enter');
    await page.waitForSelector('[data-figure="known"]');
    console.log(`dashboard overview loaded in ${Date.now() - started} ms (shell, key, first API answers)`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  test('the shell answers with a strict CSP and nosniff, and shows no data without a key', async () => {
    const response = await fetch(`${api}/api/dashboard/`);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${api}/api/dashboard/..%2Fpackage.json`)).status).toBe(404);
    const fresh = await browser.newPage();
    await fresh.goto(`${api}/api/dashboard/#/overview`);
    await fresh.waitForTimeout(500);
    expect(await fresh.locator('[data-figure="known"]').count()).toBe(0);
    await fresh.close();
  });

  test('overview figures are the API’s, with one chart point per sweep', async () => {
    const overview = await call<{ devices: { known: number; covered: number; compliant: number; evaluated: number }; trend: unknown[] }>(
      'overview',
    );
    await open('overview', '[data-figure="known"]');
    expect(await page.textContent('[data-figure="known"] .figure-value')).toBe(String(overview.devices.known));
    expect(await page.textContent('[data-figure="covered"] .figure-value')).toBe(String(overview.devices.covered));
    expect(await page.textContent('[data-figure="compliant"] .figure-detail')).toContain(
      `${overview.devices.compliant} of ${overview.devices.evaluated}`,
    );
    expect(overview.trend).toHaveLength(3);
    expect(await page.locator('details tbody tr').count()).toBe(3);
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'overview.png'), fullPage: true });
  });

  test('findings filter by rule and page over continuation tokens', async () => {
    await open('findings', 'form.filters');
    await page.waitForSelector('tr.finding');
    expect(await page.locator('tr.finding').count()).toBe(25);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'findings.png'), fullPage: true });
    const rowKeys = () =>
      page
        .locator('tr.finding')
        .allInnerTexts()
        .then((rows) => rows.map((row) => row.split('\t').slice(0, 2).join('|')));
    const firstPage = await rowKeys();
    const firstRow = await page.locator('tr.finding').first().textContent();
    await page.getByRole('button', { name: /Next/ }).click();
    await page.waitForFunction((first) => document.querySelector('tr.finding')?.textContent !== first, firstRow);
    const secondPage = await rowKeys();
    expect(secondPage.length).toBeGreaterThan(0);
    expect(secondPage.filter((key) => firstPage.includes(key))).toEqual([]);

    await page.selectOption('#filter-rule', 'agent-failed');
    await page.click('form.filters button[type="submit"]');
    await page.waitForFunction(() => {
      const cells = Array.from(document.querySelectorAll('tr.finding td:nth-child(2)'));
      return cells.length > 0 && cells.every((cell) => cell.textContent === 'agent-failed');
    });
    const overview = await call<{ rules: Array<{ ruleId: string; violations: number }> }>('overview');
    const agentFailed = overview.rules.find((rule) => rule.ruleId === 'agent-failed')?.violations ?? 0;
    expect(await page.locator('tr.finding').count()).toBe(Math.min(agentFailed, 25));
  });

  test('a device whose id holds quotes opens with its posture, drift marked, XSS inert, and its timeline', async () => {
    await open(`device/${encodeURIComponent(QUOTED_DEVICE)}`, '.device-id');
    expect(await page.textContent('.device-id')).toBe(QUOTED_DEVICE);
    await page.waitForSelector('.timeline-item');
    expect(await page.locator('.timeline-item').count()).toBeGreaterThan(0);
    expect(await page.locator('main').innerText()).toContain(XSS);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('text=drifted').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'device.png'), fullPage: true });
  });

  test('suppressing a finding from its row creates the suppression through the API', async () => {
    await open('findings?rule=agent-failed', 'tr.finding');
    const row = page.locator('tr.finding', { hasText: QUOTED_DEVICE });
    await row.getByRole('button', { name: 'Suppress…' }).click();
    await row.locator('input[name="reason"]').fill('accepted drift on the test line');
    await row.getByRole('button', { name: 'Suppress', exact: true }).click();
    await row.locator('text=suppressed as').waitFor();
    const { suppressions } = await call<{ suppressions: Array<{ deviceId: string; ruleId: string; reason: string }> }>('suppressions');
    expect(suppressions).toContainEqual(
      expect.objectContaining({ deviceId: QUOTED_DEVICE, ruleId: 'agent-failed', reason: 'accepted drift on the test line' }),
    );
  });

  test('sweeps and dead letters pages render', async () => {
    await open('sweeps', 'main table');
    expect(await page.locator('main tbody tr').count()).toBe(3);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'sweeps.png'), fullPage: true });
    await open('dead-letters', 'main h1');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dead-letters.png'), fullPage: true });
  });

  test.each([
    'overview?trend=0',
    'overview?trend=101',
    'sweeps?limit=abc',
    'sweeps?limit=101',
    'dead-letters?limit=0',
    'dead-letters?preview=32001',
    'compliance/findings?severity=urgent',
    `compliance/findings?device=${'d'.repeat(129)}`,
  ])('the dashboard’s API routes answer 400 for out-of-range input: %s', async (route) => {
    const response = await fetch(`${api}/api/${route}`, { headers: { 'x-functions-key': system.functionKey } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('BadRequest');
  });

  test('dead letters are listed with their reason and a payload preview', async () => {
    const page = await call<{ deadLetters: unknown[]; continuationToken: string | null }>('dead-letters?limit=5&preview=100');
    expect(Array.isArray(page.deadLetters)).toBe(true);
    expect((await call<{ sweeps: unknown[] }>('sweeps?limit=2')).sweeps).toHaveLength(2);
  });

  test('every page is reachable by keyboard alone, with a visible focus ring and status spelled out, not only coloured', async () => {
    const focused = () =>
      page.evaluate(() => {
        const element = (document as unknown as { activeElement: { id: string; className: string; textContent: string | null } | null })
          .activeElement;
        return { id: element?.id ?? '', className: String(element?.className ?? ''), text: element?.textContent?.trim() ?? '' };
      });
    const tabUntil = async (matches: (element: { id: string; className: string; text: string }) => boolean, what: string) => {
      for (let presses = 0; presses < 80; presses++) {
        await page.keyboard.press('Tab');
        if (matches(await focused())) return;
      }
      throw new Error(`Tab never reached ${what}`);
    };
    // A fresh load starts sequential focus at the top of the document, as for a person arriving at the page.
    await open('overview', '[data-figure="known"]');
    await page.reload();
    await page.waitForSelector('[data-figure="known"]');
    await page.keyboard.press('Tab');
    expect((await focused()).className).toContain('skip');
    expect(
      await page.evaluate(() => getComputedStyle((document as unknown as { activeElement: Element }).activeElement).outlineStyle),
    ).not.toBe('none');
    await page.keyboard.press('Enter');
    expect((await focused()).id).toBe('view');

    await tabUntil((element) => element.text === 'Findings', 'the Findings link');
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr.finding');
    expect(page.url()).toContain('#/findings');
    expect((await focused()).id).toBe('view');
    const statuses = await page.locator('tr.finding .badge').allInnerTexts();
    expect(statuses.length).toBeGreaterThan(0);
    for (const status of statuses) expect(status.trim()).toMatch(/violation|suppressed/);

    await tabUntil((element) => element.className.includes('device'), 'a device link in the findings');
    const deviceId = (await focused()).text;
    await page.keyboard.press('Enter');
    await page.waitForSelector('.device-id');
    expect(await page.textContent('.device-id')).toBe(deviceId);
  });

  test('no script ran from device data and the pages logged no errors', () => {
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
