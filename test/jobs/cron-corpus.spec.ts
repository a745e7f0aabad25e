import 'reflect-metadata';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { CronJob } from 'cron';
import { resolveSchedule, type TickSchedule } from '../../lib/jobs/tick-schedule.js';
import { EXPRESSIONS, OFFSETS, ZONES, changesOf, startInstants } from '../support/cron-corpus.js';

/** Firings simulated per process start, and the longest stretch of simulated time per start. */
const FIRINGS = 6;
const SPAN = 40 * 86_400_000;
/** A firing in the steady state costs one parser call; a cold search (a fresh node) at most this. */
const STEADY_CALLS = 2;
const COLD_CALLS = 130;

interface Where {
  timeZone?: string;
  utcOffset?: number;
}

function schedule(expression: string, where: Where): TickSchedule {
  const method = function job(): void {};
  Reflect.defineMetadata('SCHEDULE_CRON_OPTIONS', { cronTime: expression, ...where }, method);
  return resolveSchedule('corpus', method, undefined);
}

/**
 * The instants at which `cron`'s own CronJob (what @nestjs/schedule fires @Cron with) fires, for
 * a process started at `start`, on a simulated clock: no waiting.
 */
function firings(expression: string, where: Where, start: number): number[] {
  jest.useFakeTimers({ now: start, doNotFake: ['nextTick', 'queueMicrotask'] });
  const fired: number[] = [];
  const job = CronJob.from({
    // One of timeZone / utcOffset, as @nestjs/schedule passes them.
    ...(where as { timeZone: string }),
    cronTime: expression,
    onTick: () => void fired.push(Date.now()),
    start: true,
  });
  try {
    // cron splits waits longer than 24.8 days into several timers: allow for them.
    for (let i = 0; i < 3 * FIRINGS && fired.length < FIRINGS && Date.now() < start + SPAN; i++) {
      jest.advanceTimersToNextTimer();
    }
  } finally {
    job.stop();
    jest.useRealTimers();
  }
  return fired;
}

describe('cron ticks on a simulated clock: every firing of cron maps to its own tick', () => {
  const totals = { runs: 0, firings: 0, lookups: 0, maxSteady: 0, maxCold: 0, unlisted: 0 };
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  afterAll(() => {
    warn.mockRestore();
    // What was checked, for the README.
    console.log(`cron corpus: ${JSON.stringify(totals)}`);
  });

  const places: Array<[string, Where]> = [
    ...ZONES.map((timeZone): [string, Where] => [timeZone, { timeZone }]),
    ...OFFSETS.map((utcOffset): [string, Where] => [`UTC${utcOffset}min`, { utcOffset }]),
  ];

  it.each(EXPRESSIONS.map((expression) => [expression]))('%s', (expression) => {
    const problems: string[] = [];
    for (const [place, where] of places) {
      const changes = changesOf(where.timeZone);
      for (const start of startInstants(where.timeZone)) {
        const nearChange = changes.some(
          (change) => change > start && change - start < 3 * 86_400_000,
        );
        const fired = firings(expression, where, start);
        const node = schedule(expression, where); // a node started at `start`
        totals.runs += 1;
        totals.firings += fired.length;
        const label = (at: number) =>
          `${expression} ${place} start ${new Date(start).toISOString()} firing ${new Date(at).toISOString()}`;
        fired.forEach((at, i) => {
          const gap = (fired[i + 1] ?? node.nextTick(at)) - at;
          // A firing runs a few ms after its instant, or later on a busy event loop.
          for (const late of [0, 3, 250].filter((ms) => ms < gap / 2)) {
            const tick = node.tickAt(at + late, at + late);
            const calls = node.lastParserCalls();
            totals.lookups += 1;
            if (i > 0) totals.maxSteady = Math.max(totals.maxSteady, calls);
            totals.maxCold = Math.max(totals.maxCold, calls);
            if (tick !== at)
              problems.push(`${label(at)} +${late} ms -> tick ${new Date(tick).toISOString()}`);
            if (calls > (i === 0 && late === 0 ? COLD_CALLS : STEADY_CALLS)) {
              problems.push(`${label(at)} +${late} ms took ${calls} parser calls`);
            }
          }
          if (node.nextTick(at) !== (fired[i + 1] ?? node.nextTick(at))) {
            problems.push(
              `${label(at)}: next tick ${node.nextTick(at)} but cron fired next at ${fired[i + 1]}`,
            );
          }
        });
        // A node started at another time (a cold search) names the same ticks.
        const cold = schedule(expression, where);
        for (const at of fired.filter((_, i) => i === (nearChange ? 3 : 5))) {
          const tick = cold.tickAt(at + 3, at + 3);
          totals.maxCold = Math.max(totals.maxCold, cold.lastParserCalls());
          if (tick !== at) problems.push(`${label(at)} cold -> ${new Date(tick).toISOString()}`);
          if (cold.lastParserCalls() > COLD_CALLS) {
            problems.push(`${label(at)} cold took ${cold.lastParserCalls()} parser calls`);
          }
        }
        // Catch-up lists a stretch from the occurrence before it: every tick it lists is one.
        // (It can miss a firing where cron's own next occurrence depends on where it starts
        // from: Lord Howe's spring change at 09:00; counted, not a failure.)
        if (nearChange && fired.length > 1) {
          const listed = node.ticksBetween(fired[0], fired.at(-1)! + 1, 1000);
          for (const tick of listed) {
            if (cold.tickAt(tick, tick) !== tick)
              problems.push(`${label(tick)}: listed, not a tick`);
          }
          totals.unlisted += fired.filter((at) => !listed.includes(at)).length;
        }
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
  });
});
