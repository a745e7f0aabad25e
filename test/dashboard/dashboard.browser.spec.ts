import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { buildSample, killAllSamples, SampleProcess } from '../sample/sample-process.js';
import { freePort, startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { assertBrowser, launchBrowser, type TestBrowser } from './browser.js';

// Beats every 250 ms, removed 6 s after the last: a crashed node's heartbeat is overdue (750 ms)
// long before the registry removes it, and its ticks run elsewhere within a second.
const FAST = { HEARTBEAT_INTERVAL: '250', HEARTBEAT_TTL: '6000' };
const NODE_IDS = ['node-1', 'node-2', 'node-3'];
const JOB = 'report';

/** What the page shows right now, read from its DOM. */
async function shown(page: Page) {
  const attribute = (selector: string, name: string) =>
    page.locator(selector).evaluateAll((all, n) => all.map((e) => e.getAttribute(n) ?? ''), name);
  const jobs = await attribute('article.job', 'data-job');
  const owners = await attribute('article.job', 'data-owner');
  const ownerSuspect = await attribute('article.job', 'data-owner-suspect');
  const nodes = await attribute('#services tr[data-node]', 'data-node');
  const suspect = await attribute('#services tr[data-node]', 'data-suspect');
  const colors = await page
    .locator('#services tr[data-node] .node i')
    .evaluateAll((all) =>
      all.map((e) => (globalThis as any).getComputedStyle(e).backgroundColor as string),
    );
  const runsBy: Record<string, string[]> = {};
  for (const job of jobs) {
    runsBy[job] = (
      await page.locator(`article.job[data-job="${job}"] table.runs .node`).allTextContents()
    ).map((text) => text.trim());
  }
  return {
    nodes,
    /** Why the page calls each node suspect ('heartbeat' or 'tick'), '' when it does not. */
    suspects: Object.fromEntries(nodes.map((id, i) => [id, suspect[i]])),
    colors: Object.fromEntries(nodes.map((id, i) => [id, colors[i]])),
    owners: Object.fromEntries(jobs.map((job, i) => [job, owners[i]])),
    ownerSuspect: Object.fromEntries(jobs.map((job, i) => [job, ownerSuspect[i]])),
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
    await assertBrowser(); // no browser: fail at once, with how to get one
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

  it('tells the truth after a SIGKILL: the owner is suspect at once, the failover is dated when its tick ran elsewhere, colours stay', async () => {
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
        const calm = Object.values(view.suspects).every((reason) => reason === '');
        return view.nodes.length === 3 && view.owners[JOB] === owner && calm ? view : undefined;
      },
      {
        timeout: 10_000,
        message: `the page never showed 3 nodes, none suspect, and ${owner} owning ${JOB}`,
      },
    ))!;
    expect(before.nodes).toEqual(NODE_IDS);
    expect(before.status).toBe('live');
    // On a node that does not own the job, its refused claims are "claimed elsewhere", shown as
    // normal and not counted as skipped.
    const skips = await waitFor(
      async () => {
        const card = page.locator(`article.job[data-job="${JOB}"]`);
        const normal = await card.locator('.reason.normal').textContent();
        const elsewhere = Number(/claimed elsewhere (\d+)/.exec(normal ?? '')?.[1]);
        const troubles = (await card.locator('.reason.warn').allTextContents()).map((text) =>
          Number(/(\d+)$/.exec(text)![1]),
        );
        const skipped = Number(await card.locator('dt:text-is("skipped") + dd').textContent());
        return elsewhere > 0 ? { elsewhere, troubles, skipped } : undefined;
      },
      {
        timeout: 10_000,
        message: `the page of ${viewer.nodeId} never showed ${JOB} claimed elsewhere`,
      },
    );
    expect(skips!.skipped).toBe(skips!.troubles.reduce((sum, n) => sum + n, 0));
    await page.evaluate(() => ((globalThis as any).unreloaded = true));

    const killed = nodes.get(owner)!;
    const ownerTicks = () => killed.runs(JOB).map((run) => run.tick!);
    const killedAt = Date.now();
    await killed.kill();
    nodes.delete(owner);
    const lastOwnTick = Math.max(...ownerTicks());

    // Suspect while still listed: the registry removes it only 6 s after its last beat.
    const suspect = (await waitFor(
      async () => {
        const view = await shown(page);
        return view.suspects[owner] === 'heartbeat' ? view : undefined;
      },
      { timeout: 10_000, message: `the page never showed ${owner} suspect (heartbeat overdue)` },
    ))!;
    const suspectAfter = Date.now() - killedAt;
    expect(suspect.nodes).toContain(owner);
    expect(suspect.owners[JOB]).toBe(owner);
    expect(suspect.ownerSuspect[JOB]).toBe('heartbeat');
    expect(Object.entries(suspect.suspects).filter(([, reason]) => reason)).toEqual([
      [owner, 'heartbeat'],
    ]);
    if (process.env.DASHBOARD_SCREENSHOT === '1') {
      // After the ticks have run elsewhere for a moment, before the owner is removed.
      await waitFor(async () => (await shown(page)).runsBy[JOB][0] !== owner, { timeout: 3000 });
      await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
    }

    const after = (await waitFor(
      async () => {
        const view = await shown(page);
        const newOwner = view.owners[JOB];
        return !view.nodes.includes(owner) && newOwner && newOwner !== owner ? view : undefined;
      },
      { timeout: 15_000, message: `the page never showed ${owner} gone and ${JOB} failed over` },
    ))!;
    const state = (await viewer.get('/cluster/state')).body;
    expect(after.nodes).toEqual(NODE_IDS.filter((id) => id !== owner));
    expect(after.nodes).toContain(after.owners[JOB]);
    expect(after.events.some((e) => e.includes(owner) && e.includes('expired'))).toBe(true);
    expect(after.events.some((e) => e.includes(JOB) && e.includes('failed over'))).toBe(true);
    expect(await page.evaluate(() => (globalThis as any).unreloaded)).toBe(true);
    expect(navigations).toBe(1);

    // The failover is dated when a survivor ran the first tick after the owner's last one (as
    // the survivors' own run logs say), and that comes before the registry removed the owner.
    const survivorTicks = [...nodes.values()]
      .flatMap((node) => node.runs(JOB).map((run) => ({ node: node.nodeId, tick: run.tick! })))
      .filter((run) => run.tick > lastOwnTick)
      .sort((a, b) => a.tick - b.tick);
    const failover = state.events.find((e: any) => e.kind === 'owner' && e.job === JOB);
    const left = state.events.find((e: any) => e.kind === 'left' && e.nodeId === owner);
    expect(failover).toMatchObject({
      from: owner,
      failover: true,
      takenOver: survivorTicks[0] && {
        by: survivorTicks[0].node,
        tick: survivorTicks[0].tick,
      },
    });
    const run = state.jobs
      .find((job: any) => job.name === JOB)
      .recentRuns.find((r: any) => r.tick === failover.takenOver.tick);
    expect(failover.at).toBe(run.startedAt);
    expect(failover.at).toBeLessThan(left.at);
    process.stdout.write(
      `dashboard: ${owner} SIGKILLed, shown suspect ${suspectAfter} ms later; its tick ${failover.takenOver.tick} ran on ${failover.takenOver.by} ` +
        `${left.at - failover.at} ms before the registry removed ${owner}\n`,
    );

    // Colours follow the node id: the same on a fresh page after the owner left, and after a
    // node that sorts first joined (given by the order nodes were listed, they would change).
    const fresh = await browser.context.newPage();
    const colorsOn = async (ids: string[]) => {
      await fresh.goto(`${viewer.url}/cluster`);
      return (await waitFor(
        async () => {
          const view = await shown(fresh);
          // Listed and painted: the list can render a moment before its colour dots.
          const painted = ids.every((id) => view.colors[id]);
          return view.nodes.join() === [...ids].sort().join() && painted ? view.colors : undefined;
        },
        { timeout: 10_000, message: `a fresh page never listed ${ids.join(', ')}` },
      ))!;
    };
    const kept = (colors: Record<string, string>) =>
      Object.fromEntries(after.nodes.map((id) => [id, colors[id]]));
    expect(kept(await colorsOn(after.nodes))).toEqual(kept(before.colors));
    const joiner = await SampleProcess.start({
      ...FAST,
      REDIS_URL: redis.url,
      KEY_PREFIX: `${redis.keyPrefix}dashboard`,
      NODE_ID: 'node-0',
      PORT: String(await freePort()),
    });
    nodes.set('node-0', joiner);
    const joined = await colorsOn([...after.nodes, 'node-0']);
    expect(kept(joined)).toEqual(kept(before.colors));
    await fresh.close();
    await page.close();
  }, 90_000);

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
