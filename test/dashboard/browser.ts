// A Chromium driven by playwright-core, for the page tests: `CHROMIUM_PATH`, else Debian's
// /usr/bin/chromium; headless, no network of its own (no updates, sync or QUIC), a fresh profile.
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** The browser the tests drive: `CHROMIUM_PATH` when set, else `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';

/**
 * Fails with one line saying how to get a browser when there is none at `CHROMIUM`: playwright-core
 * downloads none, and a skipped page test would look like a passing one.
 */
export async function assertBrowser(path = CHROMIUM): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(
      `No Chromium at ${path}: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome executable`,
    );
  }
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  await assertBrowser();
  const profile = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
