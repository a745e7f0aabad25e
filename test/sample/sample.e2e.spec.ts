import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { NodeInfo } from 'nestjs-redis-discovery';
import { freePort, startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { buildSample, killAllSamples, SampleProcess } from './sample-process.js';

const FAST = { HEARTBEAT_INTERVAL: '200', HEARTBEAT_TTL: '1000' };
const JOBS = ['report', 'cleanup', 'digest'];

interface JobsBody {
  nodeId: string;
  state: string;
  nodes: string[];
  jobs: Array<{ name: string; period: number; owner: string; runs: number }>;
}

/** The value of the one sample of `name` with these labels in a Prometheus text scrape. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const values = text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
  if (values.length !== 1)
    throw new Error(`${values.length} samples of ${name} ${JSON.stringify(labels)}`);
  return values[0];
}

/** The sample app as real processes, driven over HTTP. */
describe('sample app (e2e)', () => {
  let redis: RedisHandle;
  let namespace = 0;

  beforeAll(async () => {
    await buildSample();
    redis = await startRedis();
  }, 90_000);
  afterEach(async () => {
    await killAllSamples();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function onRedis(nodeId: string, keyPrefix: string, extra: Record<string, string> = {}) {
    const port = await freePort();
    const sample = await SampleProcess.start({
      ...FAST,
      REDIS_URL: redis.url,
      KEY_PREFIX: keyPrefix,
      NODE_ID: nodeId,
      PORT: String(port),
      ...extra,
    });
    expect(sample.listeningPort).toBe(port);
    return sample;
  }

  it('two instances on Redis: live, health, nodes, services and jobs', async () => {
    const keyPrefix = `${redis.keyPrefix}sample-e2e-${namespace++}`;
    const a = await onRedis('sample-a', keyPrefix);
    const b = await onRedis('sample-b', keyPrefix, { SERVICE_VERSION: '1.2.0' });
    const both = [a, b];

    for (const node of both) {
      expect(await node.get('/live')).toEqual({ status: 200, body: { status: 'ok' } });
    }

    // Each sees both nodes, with the address it listens on.
    for (const node of both) {
      const nodes = (await waitFor(
        async () => {
          const { body } = await node.get<NodeInfo[]>('/nodes');
          return body.length === 2 ? body : undefined;
        },
        { timeout: 5000, message: `${node.nodeId} never saw both nodes` },
      ))!;
      const byId = Object.fromEntries(nodes.map((n) => [n.nodeId, n]));
      expect(Object.keys(byId).sort()).toEqual(['sample-a', 'sample-b']);
      expect(byId['sample-a'].address).toMatch(new RegExp(`:${a.listeningPort}$`));
      expect(byId['sample-b'].address).toMatch(new RegExp(`:${b.listeningPort}$`));
      expect(byId['sample-b'].services).toEqual([{ name: 'sample', version: '1.2.0' }]);
    }

    // Readiness: up, with this node's id and the pool size.
    for (const node of both) {
      const { status, body } = await node.get('/health');
      expect(status).toBe(200);
      expect(body.status).toBe('ok');
      expect(body.details.discovery).toMatchObject({
        status: 'up',
        nodeId: node.nodeId,
        serviceName: 'sample',
        nodes: 2,
      });
      expect(typeof body.details.discovery.lastHeartbeatAge).toBe('number');
    }

    // Lookups by service and version (exact, range, no match, bad argument).
    const ids = async (path: string) =>
      (await a.get<NodeInfo[]>(path)).body.map((n) => n.nodeId).sort();
    expect(await ids('/services/sample')).toEqual(['sample-a', 'sample-b']);
    expect(await ids('/services/sample?version=1.2.0')).toEqual(['sample-b']);
    expect(await ids(`/services/sample?version=${encodeURIComponent('^1.0.0')}`)).toEqual([
      'sample-a',
      'sample-b',
    ]);
    expect(await ids('/services/sample?version=2.0.0')).toEqual([]);
    expect(await ids('/services/other')).toEqual([]);
    expect((await a.get('/services/%20')).status).toBe(400);

    // Jobs: both nodes agree on one owner per job, among the two.
    const views = await Promise.all(
      both.map(
        async (node) =>
          (await waitFor(
            async () => {
              const { body } = await node.get<JobsBody>('/jobs');
              return body.state === 'steady' && body.nodes.length === 2 ? body : undefined;
            },
            { timeout: 5000, message: `${node.nodeId}: pool never steady with 2 nodes` },
          ))!,
      ),
    );
    for (const [i, view] of views.entries()) {
      expect(view.nodeId).toBe(both[i].nodeId);
      expect(view.nodes).toEqual(['sample-a', 'sample-b']);
      expect(view.jobs.map((j) => j.name).sort()).toEqual([...JOBS].sort());
      for (const job of view.jobs) expect(['sample-a', 'sample-b']).toContain(job.owner);
    }
    const owners = (view: JobsBody) => Object.fromEntries(view.jobs.map((j) => [j.name, j.owner]));
    expect(owners(views[0])).toEqual(owners(views[1]));
    expect(Object.fromEntries(views[0].jobs.map((j) => [j.name, j.period]))).toEqual({
      report: 1000,
      cleanup: 2000,
      digest: 5000,
    });

    // The jobs run, each tick on one node only, and the run lines are well formed.
    await waitFor(() => both.flatMap((n) => n.runs('report')).length >= 3, {
      timeout: 10_000,
      message: 'report never ran three times',
    });
    const runs = both.flatMap((n) => n.runs());
    for (const run of runs) {
      expect(run).toEqual({
        event: 'run',
        node: expect.stringMatching(/^sample-[ab]$/),
        job: expect.stringMatching(/^(report|cleanup|digest)$/),
        tick: expect.any(Number),
        token: expect.any(Number),
        at: expect.any(Number),
      });
    }
    const ticks = runs.map((r) => `${r.job}@${r.tick}`);
    expect(new Set(ticks).size).toBe(ticks.length);
    const { body: jobs } = await a.get<JobsBody>('/jobs');
    const owner = jobs.jobs.find((j) => j.name === 'report')!.owner;
    expect(both.find((n) => n.nodeId === owner)!.runs('report').length).toBeGreaterThan(0);

    // GET /metrics: the sample's OpenTelemetry SDK (Prometheus exporter) shows the module's
    // instruments: the owner's runs, the other node's refused claims, beats, lease and pool size.
    const other = both.find((n) => n.nodeId !== owner)!;
    const scrape = await both.find((n) => n.nodeId === owner)!.getText('/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain/);
    expect(
      metric(scrape.text, 'discovery_job_runs_total', { discovery_job_name: 'report' }),
    ).toBeGreaterThan(0);
    expect(metric(scrape.text, 'discovery_heartbeat_duration_count')).toBeGreaterThan(0);
    expect(metric(scrape.text, 'discovery_lease_valid')).toBe(1);
    expect(
      metric(scrape.text, 'discovery_service_nodes', { discovery_service_name: 'sample' }),
    ).toBe(2);
    const { text: otherText } = await other.getText('/metrics');
    expect(
      metric(otherText, 'discovery_job_skips_total', {
        discovery_job_name: 'report',
        discovery_job_skip_reason: 'claimed_elsewhere',
      }),
    ).toBeGreaterThan(0);

    // SIGTERM: b drains, deregisters and exits 0; a stops listing it.
    expect(await b.terminate()).toBe(0);
    await waitFor(async () => (await a.get<NodeInfo[]>('/nodes')).body.length === 1, {
      timeout: 1000,
      message: 'a still lists b after its shutdown',
    });
    const { body: health } = await a.get('/health');
    expect(health.details.discovery).toMatchObject({ status: 'up', nodes: 1 });

    for (const node of both)
      expect({ node: node.nodeId, errors: node.errors() }).toEqual({
        node: node.nodeId,
        errors: [],
      });
    expect(await a.terminate()).toBe(0);
  }, 60_000);

  it('without REDIS_URL it runs on the in-memory registry and lists itself', async () => {
    const port = await freePort();
    const solo = await SampleProcess.start({ NODE_ID: 'solo', PORT: String(port) });
    expect(
      solo.lines.some((l) => l.message?.includes('on the in-memory registry (this process only)')),
    ).toBe(true);

    const { body: nodes } = await solo.get<NodeInfo[]>('/nodes');
    expect(nodes).toEqual([
      expect.objectContaining({
        nodeId: 'solo',
        serviceName: 'sample',
        services: [{ name: 'sample', version: '1.0.0' }],
      }),
    ]);
    expect((await solo.get('/live')).body).toEqual({ status: 'ok' });
    const { status, body } = await solo.get('/health');
    expect(status).toBe(200);
    expect(body.details.discovery).toMatchObject({ status: 'up', nodeId: 'solo', nodes: 1 });
    const { body: jobs } = await solo.get<JobsBody>('/jobs');
    expect(jobs.nodes).toEqual(['solo']);
    for (const job of jobs.jobs) expect(job.owner).toBe('solo');
    await waitFor(() => solo.runs('report').length >= 1, { timeout: 5000 });
    expect(await solo.terminate()).toBe(0);
  }, 30_000);
});
