import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { buildSample, killAllSamples, SampleProcess } from '../sample/sample-process.js';
import { freePort, startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const FAST = { HEARTBEAT_INTERVAL: '200', HEARTBEAT_TTL: '1000' };
const NODE_IDS = ['node-1', 'node-2', 'node-3'];
const JOB = 'report';

/** What the page shows right now, read from its DOM. */
async function shown(page: Page) {
  const attribute = (selector: string, name: string) =>
    page.locator(selector).evaluateAll((all, n) => all.map((e) => e.getAttribute(n) ?? ''), name);
  const jobs = await attribute('article.job', 'data-job');
  const owners = await attribute('article.job', 'data-owner');
  const runsBy: Record<string, string[]> = {};
  for (const job of jobs) {
    runsBy[job] = (
      await page.locator(`article.job[data-job="${job}"] table.runs .node`).allTextContents()
    ).map((text) => text.trim());
  }
  return {
    nodes: await attribute('#services tr[data-node]', 'data-node'),
    owners: Object.fromEntries(jobs.map((job, i) => [job, owners[i]])),
    runsBy,
    poolState: await page.locator('#pool-state').textContent(),
    status: await page.locator('#status').textContent(),
    events: await page.locator('#events li.event').allTextContents(),
  };
}

/** The sample app's cluster page (`/cluster`) in Debian's Chromium, on three sample processes. */
describe('live cluster page in a real browser', () => {
  let redis: RedisHandle;
  let browser: TestBrowser;
  const nodes = new Map<string, SampleProcess>();

  beforeAll(async () => {
    await buildSample();
    redis = await startRedis();
    browser = await launchBrowser();
    for (const nodeId of NODE_IDS) {
      const sample = await SampleProcess.start({
        ...FAST,
        REDIS_URL: redis.url,
        KEY_PREFIX: `${redis.keyPrefix}dashboard`,
        NODE_ID: nodeId,
        PORT: String(await freePort()),
      });
      nodes.set(nodeId, sample);
    }
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await killAllSamples();
    await redis?.stop();
  });

  /** The owner of JOB once every node agrees on it with the pool steady. */
  async function ownerOfJob(): Promise<string> {
    return (await waitFor(
      async () => {
        const views = await Promise.all(
          [...nodes.values()].map(async (node) => (await node.get('/jobs')).body),
        );
        const owners = new Set(views.map((v) => v.jobs.find((j: any) => j.name === JOB).owner));
        const ready = views.every((v) => v.state === 'steady' && v.nodes.length === 3);
        return ready && owners.size === 1 ? [...owners][0] : undefined;
      },
      { timeout: 10_000, message: 'the nodes never agreed on one owner with a steady pool' },
    ))!;
  }

  it('is one self-contained page: every request it makes goes to its own node', async () => {
    const viewer = nodes.get('node-1')!;
    const page = await browser.context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));

    const response = await page.goto(`${viewer.url}/cluster`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-type']).toMatch(/^text\/html/);
    expect(response!.headers()['content-security-policy']).toContain("default-src 'none'");
    await waitFor(async () => (await shown(page)).nodes.length === 3, {
      timeout: 10_000,
      message: 'the page never listed 3 nodes',
    });

    const elsewhere = requests.filter(
      (url) => !url.startsWith(`${viewer.url}/`) && !url.startsWith('data:'),
    );
    expect(elsewhere).toEqual([]);
    expect(requests).toEqual(
      expect.arrayContaining([
        `${viewer.url}/cluster`,
        `${viewer.url}/cluster/state`,
        `${viewer.url}/cluster/events`,
      ]),
    );
    await page.close();
  }, 30_000);

  it('follows the cluster live: a SIGKILLed owner disappears and its job fails over, no reload', async () => {
    const owner = await ownerOfJob();
    const viewer = [...nodes.values()].find((node) => node.nodeId !== owner)!;
    const page = await browser.context.newPage();
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    await page.goto(`${viewer.url}/cluster`);

    const before = (await waitFor(
      async () => {
        const view = await shown(page);
        return view.nodes.length === 3 && view.owners[JOB] === owner ? view : undefined;
      },
      { timeout: 10_000, message: `the page never showed 3 nodes and ${owner} owning ${JOB}` },
    ))!;
    expect(before.nodes).toEqual(NODE_IDS);
    expect(before.status).toBe('live');
    await page.evaluate(() => ((globalThis as any).unreloaded = true));

    const killedAt = Date.now();
    await nodes.get(owner)!.kill();
    nodes.delete(owner);
    const after = (await waitFor(
      async () => {
        const view = await shown(page);
        const newOwner = view.owners[JOB];
        return !view.nodes.includes(owner) && newOwner && newOwner !== owner ? view : undefined;
      },
      { timeout: 10_000, message: `the page never showed ${owner} gone and ${JOB} failed over` },
    ))!;
    const seenAfter = Date.now() - killedAt;

    expect(after.nodes).toEqual(NODE_IDS.filter((id) => id !== owner));
    expect(after.nodes).toContain(after.owners[JOB]);
    expect(after.events.some((e) => e.includes(owner) && e.includes('expired'))).toBe(true);
    expect(after.events.some((e) => e.includes(JOB) && e.includes('failed over'))).toBe(true);
    expect(await page.evaluate(() => (globalThis as any).unreloaded)).toBe(true);
    expect(navigations).toBe(1);
    // Expiry takes up to HEARTBEAT_TTL (1 s) after the last beat; the page follows within a poll.
    expect(seenAfter).toBeLessThan(5000);
    process.stdout.write(`dashboard: failover shown ${seenAfter} ms after the SIGKILL\n`);

    // The recent runs (read from Redis) show the new owner taking the ticks.
    await waitFor(
      async () => {
        const view = await shown(page);
        return view.poolState === 'steady' && view.runsBy[JOB][0] === after.owners[JOB];
      },
      { timeout: 10_000, message: `the recent runs of ${JOB} never showed its new owner` },
    );
    if (process.env.DASHBOARD_SCREENSHOT === '1') {
      await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
    }
    await page.close();
  }, 60_000);

  it('does not hold up a node that shuts down with its page open; the page says it lost the node', async () => {
    const viewer = [...nodes.values()][0];
    const page = await browser.context.newPage();
    await page.goto(`${viewer.url}/cluster`);
    await waitFor(async () => (await shown(page)).status === 'live', {
      message: 'the page never went live',
    });

    const started = Date.now();
    expect(await viewer.terminate()).toBe(0);
    const took = Date.now() - started;
    nodes.delete(viewer.nodeId);
    await waitFor(async () => (await shown(page)).status !== 'live', {
      message: 'the page still says live after its node stopped',
    });
    expect(took).toBeLessThan(2000);
    process.stdout.write(`dashboard: SIGTERM to exit with the page open took ${took} ms\n`);
    await page.close();
  }, 30_000);
});
