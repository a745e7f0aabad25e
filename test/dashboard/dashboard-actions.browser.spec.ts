import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Injectable,
  Module,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  DiscoveryDashboardModule,
  DiscoveryModule,
  DistributedJob,
  DistributedJobs,
  type DiscoveryDashboardOptions,
} from 'nestjs-redis-discovery';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const TOKEN = 'operator-session-0123';

/** Lets in requests whose cookie carries the operator's session (what a browser sends anywhere). */
@Injectable()
class OperatorCookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const cookie = String(context.switchToHttp().getRequest().headers.cookie ?? '');
    return cookie.split(/;\s*/).includes(`ops=${TOKEN}`);
  }
}

@Injectable()
class Reports {
  runs = 0;
  @DistributedJob({ name: 'nightly-report', period: 60_000 })
  async nightly(): Promise<void> {
    this.runs += 1;
  }
}

/**
 * The page's actions (pause, resume, trigger): only with `actions` and a guard, only with the
 * header the page's script sets; clicked in Chromium, refused to a request that has the cookie only.
 */
describe('cluster page actions', () => {
  let redis: RedisHandle;
  let browser: TestBrowser;
  const apps: INestApplication[] = [];
  let namespace = 0;

  beforeAll(async () => {
    redis = await startRedis();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await browser?.close();
    await redis?.stop();
  });

  async function startApp(dashboard: DiscoveryDashboardOptions) {
    @Module({
      imports: [
        DiscoveryModule.forRoot({
          redis: redis.url,
          keyPrefix: `dash-actions-${namespace++}`,
          nodeId: 'web-1',
          heartbeatInterval: 200,
          heartbeatTTL: 1000,
        }),
        DiscoveryDashboardModule.forRoot(dashboard),
      ],
      providers: [Reports],
    })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    return { app, url: await app.getUrl() };
  }
  const post = (url: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }));
  const cookie = { cookie: `ops=${TOKEN}` };

  it('over HTTP: the guard, then the header, then the action; unknown jobs and actions refused; nothing without `actions`', async () => {
    const { app, url } = await startApp({ guard: OperatorCookieGuard, actions: true });
    const pause = `${url}/cluster/jobs/nightly-report/pause`;
    expect((await post(pause, {})).status).toBe(403); // the guard
    expect((await post(pause, { 'x-discovery-action': '1' })).status).toBe(403); // the guard
    const cookieOnly = await post(pause, cookie); // what a cross-site form could send
    expect(cookieOnly.status).toBe(403);
    expect(cookieOnly.body.message).toContain('x-discovery-action');
    const jobs = app.get(DistributedJobs);
    expect((await jobs.describe('nightly-report')).paused).toBe(false);
    const done = await post(pause, { ...cookie, 'x-discovery-action': '1' });
    expect(done).toEqual({ status: 200, body: { paused: true, wasPaused: false } });
    expect(await jobs.describe('nightly-report')).toMatchObject({
      paused: true,
      pauseReason: 'paused from the cluster page',
    });
    const headers = { ...cookie, 'x-discovery-action': '1' };
    expect((await post(`${url}/cluster/jobs/nope/pause`, headers)).status).toBe(404);
    expect((await post(`${url}/cluster/jobs/nightly-report/delete`, headers)).status).toBe(400);
    const plain = await startApp({ guard: OperatorCookieGuard });
    expect((await post(`${plain.url}/cluster/jobs/nightly-report/pause`, headers)).status).toBe(
      404,
    );
  });

  it('in Chromium: pause, resume and trigger by their buttons; the page shows the state and the history', async () => {
    const { app, url } = await startApp({ guard: OperatorCookieGuard, actions: true });
    await browser.context.addCookies([{ name: 'ops', value: TOKEN, url }]);
    const page = await browser.context.newPage();
    await page.goto(`${url}/cluster`);
    const article = page.locator('article.job[data-job="nightly-report"]');
    await article.locator('p.paused[data-paused="0"]').waitFor();
    await article.locator('button[data-action="pause"]').click();
    await article.locator('p.paused[data-paused="1"]').waitFor();
    expect(await article.locator('p.paused').textContent()).toContain(
      'paused from the cluster page',
    );
    expect(await page.locator('#action-result').textContent()).toBe('pause nightly-report: paused');
    await article.locator('button[data-action="trigger"]').click();
    await waitFor(async () =>
      (await page.locator('#action-result').textContent())?.includes('refused'),
    );
    expect(await page.locator('#action-result').textContent()).toBe(
      'trigger nightly-report: refused (paused)',
    );
    await article.locator('button[data-action="resume"]').click();
    await article.locator('p.paused[data-paused="0"]').waitFor();
    await article.locator('button[data-action="trigger"]').click();
    await article.locator('table.history tr[data-outcome="ok"]').waitFor();
    expect(await article.locator('table.history tr').first().textContent()).toContain('trigger');
    expect(app.get(Reports).runs).toBe(1);
    // A script of the page without the header (as a cross-site request would be): refused.
    const status = await page.evaluate(async () => {
      const { pathname } = (globalThis as any).location;
      const response = await fetch(pathname + '/jobs/nightly-report/pause', {
        method: 'POST',
      });
      return response.status;
    });
    expect(status).toBe(403);
    expect((await app.get(DistributedJobs).describe('nightly-report')).paused).toBe(false);
    await page.close();
  });
});
