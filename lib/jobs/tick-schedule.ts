// What one tick of a job is, from its @Cron / @Interval / @Timeout (or none): the tick a firing
// stands for, when it is due, the tick after it, and the ticks of a past stretch (catch-up).
import { InvalidArgumentError } from '../common/errors.js';
import { CronOccurrences } from './cron-occurrences.js';
import { parseCron, type CronSpec } from './cron-parser.js';

/** Metadata keys of `@nestjs/schedule`, read by value so the library does not depend on it. */
const CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';
const INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';
const TIMEOUT_OPTIONS = 'SCHEDULE_TIMEOUT_OPTIONS';

export const DEFAULT_PERIOD = 1000;
/** A @Timeout job runs once per pool per this long at least (ms), unless `period` says otherwise. */
export const DEFAULT_TIMEOUT_WINDOW = 60_000;
/** cron never fires before its occurrence (wall clock); a direct call this early still counts. */
const EARLY_FIRING_MS = 5;

/**
 * How the nodes' firings line up with ticks:
 * - `cron`: every node fires at each occurrence by its own wall clock, as the `cron` package
 *   computes them; a firing stands for the latest occurrence at or before its wall-clock time,
 *   due at that instant. Wall clock, not Redis time: the answer is the occurrence the firing was
 *   scheduled for, whatever the node's start, phase or clock skew.
 * - `interval` (`@Interval`): each node's timer fires once per period at its own phase; a tick is
 *   a window `[tick, tick + period)` of Redis time, due when the window ends.
 * - `timeout` (`@Timeout`): each node fires once; a tick is a window of Redis time, claimed at
 *   once by whichever node fires first, and refused while the job ran less than a period ago.
 * - `manual`: no timer, the method is called directly; a tick is a window, claimed when called.
 */
export type ScheduleKind = 'cron' | 'interval' | 'timeout' | 'manual';

export interface TickSchedule {
  kind: ScheduleKind;
  source: 'option' | 'cron' | 'interval' | 'timeout' | 'default';
  /** ms of a window (interval, timeout, manual); undefined for a cron, whose gaps vary. */
  period: number | undefined;
  /** The cron, for `kind: 'cron'`. */
  cron: CronSpec | undefined;
  /** The tick a firing stands for, from this node's wall clock and its Redis-time estimate. */
  tickAt(wallNow: number, serverNow: number): number;
  /** When `tick` is due: its time for a cron, the end of its window otherwise. */
  dueAt(tick: number): number;
  /** The tick after `tick`. */
  nextTick(tick: number): number;
  /** Ticks t with `from <= t < to`, oldest first, at most the newest `limit`. Bounded. */
  ticksBetween(from: number, to: number, limit: number): number[];
  /** Parser calls of the last computation (a cron's cost; 0 for windows). */
  lastParserCalls(): number;
}

interface CronMetadata {
  cronTime?: unknown;
  timeZone?: string;
  utcOffset?: number;
}

/** The `@Cron` of a method, if it has one. */
export function cronOf(method: object): CronMetadata | undefined {
  return Reflect.getMetadata(CRON_OPTIONS, method) as CronMetadata | undefined;
}

/**
 * Checks what can be checked when the class is declared: a `period` beside @Cron is refused (a
 * cron's ticks are its occurrences) and the expression must parse. Throws InvalidArgumentError.
 */
export function checkCron(job: string, cron: CronMetadata, period: number | undefined): void {
  if (period !== undefined) {
    throw new InvalidArgumentError(
      `@DistributedJob() ${job}: period (${period}) cannot be used with @Cron: the ticks of a cron ` +
        'are its occurrences; remove period (set startingDeadline for how late a tick may start)',
    );
  }
  if (typeof cron.cronTime === 'string') parseCron(job, specOf(cron));
}

function specOf(cron: CronMetadata): CronSpec {
  return {
    expression: cron.cronTime as string,
    ...(cron.timeZone != null ? { timeZone: cron.timeZone } : {}),
    ...(cron.utcOffset != null ? { utcOffset: Number(cron.utcOffset) } : {}),
  };
}

export function resolveSchedule(
  job: string,
  method: object,
  period: number | undefined,
): TickSchedule {
  const interval = Reflect.getMetadata(INTERVAL_OPTIONS, method) as
    { timeout?: number } | undefined;
  const cron = cronOf(method);
  const timeout = Reflect.getMetadata(TIMEOUT_OPTIONS, method) as { timeout?: number } | undefined;
  const source = (decorator: 'interval' | 'timeout') =>
    period === undefined ? decorator : 'option';
  if (interval?.timeout) return windows(period ?? interval.timeout, 'interval', source('interval'));
  if (cron) {
    checkCron(job, cron, period);
    const at = instantOf(cron.cronTime);
    if (at !== undefined) return oneShot(at);
    if (typeof cron.cronTime === 'string') return cronSchedule(job, specOf(cron));
  }
  if (timeout?.timeout) {
    const window = period ?? Math.max(timeout.timeout, DEFAULT_TIMEOUT_WINDOW);
    return windows(window, 'timeout', source('timeout'));
  }
  return windows(period ?? DEFAULT_PERIOD, 'manual', period === undefined ? 'default' : 'option');
}

/** The schedule of a job added at runtime (`DistributedJobs.add()`): a cron or an interval. */
export function runtimeSchedule(
  job: string,
  spec: { cron?: string; timeZone?: string; interval?: number },
): TickSchedule {
  if (spec.interval !== undefined) return windows(spec.interval, 'interval', 'interval');
  return cronSchedule(job, {
    expression: spec.cron!,
    ...(spec.timeZone !== undefined ? { timeZone: spec.timeZone } : {}),
  });
}

/** Ticks are windows of one period of Redis time; a firing belongs to the window it falls in. */
function windows(
  period: number,
  kind: 'interval' | 'timeout' | 'manual',
  source: TickSchedule['source'],
): TickSchedule {
  return {
    kind,
    source,
    period,
    cron: undefined,
    tickAt: (_wall, server) => Math.floor(server / period) * period,
    dueAt: (tick) => tick + period,
    nextTick: (tick) => tick + period,
    ticksBetween(from, to, limit) {
      const ticks: number[] = [];
      const first = Math.max(Math.ceil(from / period), Math.ceil(to / period) - limit);
      for (let n = first; n * period < to; n++) ticks.push(n * period);
      return ticks;
    },
    lastParserCalls: () => 0,
  };
}

function cronSchedule(job: string, spec: CronSpec): TickSchedule {
  const occurrences = new CronOccurrences(
    parseCron(job, spec),
    `Job ${job} ('${spec.expression}')`,
  );
  return {
    kind: 'cron',
    source: 'cron',
    period: undefined,
    cron: spec,
    tickAt: (wall) => occurrences.latestAtOrBefore(wall + EARLY_FIRING_MS),
    dueAt: (tick) => tick,
    nextTick: (tick) => occurrences.next(tick),
    ticksBetween: (from, to, limit) => occurrences.between(from, to, limit),
    lastParserCalls: () => occurrences.lastCalls,
  };
}

/** `@Cron(date)`: one occurrence. */
function oneShot(at: number): TickSchedule {
  return {
    kind: 'cron',
    source: 'cron',
    period: undefined,
    cron: undefined,
    tickAt: () => at,
    dueAt: (tick) => tick,
    nextTick: () => Number.MAX_SAFE_INTEGER,
    ticksBetween: (from, to) => (from <= at && at < to ? [at] : []),
    lastParserCalls: () => 0,
  };
}

/** The instant of a `@Cron(Date)` or `@Cron(luxon DateTime)`. */
function instantOf(cronTime: unknown): number | undefined {
  if (cronTime instanceof Date) return cronTime.getTime();
  const millis = (cronTime as { toMillis?: () => number } | undefined)?.toMillis;
  return typeof millis === 'function' ? millis.call(cronTime) : undefined;
}
