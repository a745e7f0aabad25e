import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { killAllNodes } from '../support/node-process.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';
import {
  NO_VIOLATIONS,
  runScenario,
  scenarios,
  type ScenarioResult,
  violations,
} from './fault-scenarios.js';

/**
 * The long soak (`npm run test:chaos`): every fault of the suite, stretched by CHAOS_SCALE
 * (default 7, about 10 minutes in all) with CHAOS_JOBS one-second jobs (default 5), then a table of ticks, doubled, missed and failover time.
 */
const scale = Number(process.env.CHAOS_SCALE ?? 7);
const jobs = Number(process.env.CHAOS_JOBS ?? 5);

describe('chaos soak', () => {
  let redis: RedisHandle;
  const results: ScenarioResult[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await killAllNodes();
    await redis.stop();
    const lines = [
      `| fault | ticks | doubled | missed | missed in recovery window | late starts | caught up | overlapping runs | stale acts | latest start after due (ms) |`,
      `|---|---|---|---|---|---|---|---|---|---|`,
      ...results.map(
        (r) =>
          `| ${r.name} | ${r.ticks} | ${r.doubled} | ${r.missed} | ${r.missedInRecovery} | ${r.late} | ${r.catchups} | ${r.overlaps} | ${r.staleActs} | ${r.maxStartDelayMs} |`,
      ),
    ];
    const table = lines.join('\n');
    console.log(`\n${table}\n`);
    writeFileSync(new URL('./soak-results.md', import.meta.url), `${table}\n`);
  });

  it.each(scenarios(scale, jobs).map((scenario) => [scenario.name, scenario] as const))(
    '%s',
    async (_name, scenario) => {
      const result = await runScenario(scenario, redis, `soak-${results.length}`);
      results.push(result);
      expect(violations(scenario, result)).toEqual(NO_VIOLATIONS);
    },
    600_000,
  );
});
