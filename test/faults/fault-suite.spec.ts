import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { killAllNodes } from '../support/node-process.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';
import { NO_VIOLATIONS, runScenario, scenarios, violations } from './fault-scenarios.js';

/**
 * The fault suite, short version (npm run test:chaos runs the long soak). Each scenario runs real
 * node processes on a throw-away Redis and checks: no tick twice (unless Redis lost data, and then
 * no token backwards), no tick missed outside the documented recovery window, every live view
 * equal to the truth a heartbeat after the fault, and no error outside the fault window.
 */
describe('fault suite', () => {
  let redis: RedisHandle;
  let namespace = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await killAllNodes();
    await redis.stop();
  });

  it.each(scenarios().map((scenario) => [scenario.name, scenario] as const))(
    '%s',
    async (_name, scenario) => {
      const result = await runScenario(scenario, redis, `faults-${namespace++}`);
      expect(violations(scenario, result)).toEqual(NO_VIOLATIONS);
      expect(result.ticks).toBeGreaterThan(0);
    },
    60_000,
  );
});
