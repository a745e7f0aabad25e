// Jobs added at runtime (`DistributedJobs.add()`): their spec checked (a typed error naming the
// field), their schedule, and the timer that fires them on this node as @Cron / @Interval would.
import { InvalidArgumentError } from '../common/errors.js';
import { nameRule } from '../common/field-rules.js';
import { jobOptionsOf, jobOptionsProblem } from './distributed-job.decorator.js';
import type { JobOptions } from './job-definition.js';
import type { RuntimeJobSpec } from './job-operations.interface.js';
import { runtimeSchedule, type TickSchedule } from './tick-schedule.js';

const MAX_INTERVAL = 24 * 60 * 60 * 1000;
/** setTimeout's longest delay; a later occurrence is waited for in steps. */
const MAX_TIMER = 2 ** 31 - 1;
const KNOWN = new Set([
  'name',
  'cron',
  'timeZone',
  'interval',
  'startingDeadline',
  'overlap',
  'catchupWindow',
  'catchup',
  'paused',
  'retry',
  'pauseAfterFailures',
  'jitter',
]);

export interface RuntimeJob {
  schedule: TickSchedule;
  options: JobOptions;
  /** What the spec says, as one string: a second add() of the same name must say the same. */
  signature: string;
}

/** Checks `spec` and builds its job; throws InvalidArgumentError naming what is wrong. */
export function runtimeJob(spec: RuntimeJobSpec): RuntimeJob {
  if (typeof spec !== 'object' || spec === null) {
    throw new InvalidArgumentError(
      'add(): the job spec must be an object { name, cron | interval, ... }',
    );
  }
  const problem = nameRule(spec.name);
  if (problem) throw new InvalidArgumentError(`add(): name ${problem}`);
  const where = `add() ${spec.name}`;
  const unknown = Object.keys(spec).filter(
    (key) => !KNOWN.has(key) && (spec as unknown as Record<string, unknown>)[key] !== undefined,
  );
  if (unknown.length > 0)
    throw new InvalidArgumentError(`${where}: unknown option ${unknown.join(', ')}`);
  if ((spec.cron === undefined) === (spec.interval === undefined)) {
    throw new InvalidArgumentError(`${where}: give exactly one of cron or interval`);
  }
  if (
    spec.interval !== undefined &&
    !(Number.isInteger(spec.interval) && spec.interval >= 1 && spec.interval <= MAX_INTERVAL)
  ) {
    throw new InvalidArgumentError(
      `${where}: interval must be a whole number of ms from 1 to ${MAX_INTERVAL}`,
    );
  }
  if (spec.cron !== undefined && typeof spec.cron !== 'string') {
    throw new InvalidArgumentError(`${where}: cron must be a cron expression string`);
  }
  if (
    spec.timeZone !== undefined &&
    (typeof spec.timeZone !== 'string' || spec.cron === undefined)
  ) {
    throw new InvalidArgumentError(`${where}: timeZone must be a string, beside cron`);
  }
  const invalid = jobOptionsProblem(spec);
  if (invalid) throw new InvalidArgumentError(`${where}: ${invalid}`);
  const schedule = runtimeSchedule(spec.name, spec); // a bad cron or zone throws here
  const options = jobOptionsOf(spec);
  const { cron, timeZone, interval } = spec;
  return { schedule, options, signature: JSON.stringify({ cron, timeZone, interval, options }) };
}

/** Fires `fire` at each tick of `schedule` on this node's wall clock; returns the stop function. */
export function startTimer(schedule: TickSchedule, fire: () => void): () => void {
  if (schedule.kind === 'interval') {
    const every = setInterval(fire, schedule.period);
    return () => clearInterval(every);
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const now = Date.now();
    let next: number;
    try {
      const tick = schedule.tickAt(now, now);
      next = tick > now ? tick : schedule.nextTick(tick);
    } catch {
      timer = setTimeout(arm, 60_000); // a cron search that gave up: try again later
      return;
    }
    if (next >= Number.MAX_SAFE_INTEGER) return;
    const wait = next - now;
    timer = setTimeout(
      () => {
        if (wait <= MAX_TIMER && !stopped) fire();
        arm();
      },
      Math.min(Math.max(0, wait), MAX_TIMER),
    );
  };
  arm();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
