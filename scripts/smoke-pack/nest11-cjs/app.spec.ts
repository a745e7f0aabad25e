// A Nest 11 app's default Jest setup (ts-jest, CommonJS): the package must load and work with no
// transform or moduleNameMapper workaround.
import { Test } from '@nestjs/testing';
import { DistributedJobs, ServiceDiscovery } from 'nestjs-redis-discovery';
import { AppModule, ReportJob } from './app.module';

async function waitFor(check: () => boolean, timeout = 4000): Promise<void> {
  for (const deadline = Date.now() + timeout; !check();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('nestjs-redis-discovery in a CommonJS Nest 11 app under Jest', () => {
  it('loads the CommonJS build', () => {
    expect(require.resolve('nestjs-redis-discovery')).toMatch(/dist[\\/]cjs[\\/]index\.js$/);
  });

  it('registers on Redis, finds itself by semver range and runs its job', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await moduleRef.init();
    try {
      const discovery = moduleRef.get(ServiceDiscovery);
      const found = await discovery.findNodesByService('smoke-api', '^1.2.0');
      expect(found.map((node) => node.nodeId)).toEqual([discovery.nodeId]);
      const job = moduleRef.get(ReportJob);
      await waitFor(() => job.tokens.length > 0);
      expect(moduleRef.get(DistributedJobs).list()[0]?.runs).toBeGreaterThan(0);
    } finally {
      await moduleRef.close();
    }
  });
});
