// What one tick of a job is, from its @Cron / @Interval / @Timeout (or none): the tick a firing
// stands for, when that tick is due, and the ticks of a past stretch (for catch-up).

/** Metadata keys of `@nestjs/schedule`, read by value so the library does not depend on it. */
const CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';
const INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';
const TIMEOUT_OPTIONS = 'SCHEDULE_TIMEOUT_OPTIONS';

export const DEFAULT_PERIOD = 1000;

/**
 * How the nodes' firings line up with ticks:
 * - `cron`: every node fires at the scheduled instant (its own clock, so give or take the skew);
 *   a tick is the occurrence nearest to the firing, due at that instant.
 * - `interval` (`@Interval`, `@Timeout`): each node's timer fires once per period at its own phase;
 *   a tick is a window `[tick, tick + period)` of Redis time, due when the window ends (by then
 *   every healthy node has fired in it).
 * - `manual`: no timer, the method is called directly; a tick is a window, as for `interval`,
 *   claimed when the call comes.
 */
export type ScheduleKind = 'cron' | 'interval' | 'manual';

export interface TickSchedule {
  /** ms between ticks (for a cron: between its first two occurrences). */
  period: number;
  kind: ScheduleKind;
  source: 'option' | 'cron' | 'interval' | 'timeout' | 'default';
  /** The tick a firing at `serverNow` (Redis time, ms) stands for. */
  tickAt(serverNow: number): number;
  /** When `tick` is due: its time for a cron, the end of its window otherwise. */
  dueAt(tick: number): number;
  /** Ticks t with `from <= t < to`, oldest first, at most the newest `limit`. */
  ticksBetween(from: number, to: number, limit: number): number[];
}

interface CronTimeLike {
  getNextDateFrom(start: Date, timeZone?: string): { toMillis(): number };
}

export async function resolveSchedule(
  method: object,
  period: number | undefined,
): Promise<TickSchedule> {
  const interval = Reflect.getMetadata(INTERVAL_OPTIONS, method) as
    { timeout?: number } | undefined;
  const cron = Reflect.getMetadata(CRON_OPTIONS, method) as
    { cronTime?: unknown; timeZone?: string } | undefined;
  const timeout = Reflect.getMetadata(TIMEOUT_OPTIONS, method) as { timeout?: number } | undefined;
  if (interval?.timeout) return windows(period ?? interval.timeout, 'interval', source('interval'));
  if (typeof cron?.cronTime === 'string') {
    return period === undefined
      ? cronSchedule(cron.cronTime, cron.timeZone)
      : multiples(period, 'option');
  }
  if (timeout?.timeout) return windows(period ?? timeout.timeout, 'interval', source('timeout'));
  return windows(period ?? DEFAULT_PERIOD, 'manual', period === undefined ? 'default' : 'option');

  function source(decorator: 'interval' | 'timeout'): TickSchedule['source'] {
    return period === undefined ? decorator : 'option';
  }
}

/** Ticks are windows of one period; a firing belongs to the window it falls in. */
function windows(
  period: number,
  kind: 'interval' | 'manual',
  source: TickSchedule['source'],
): TickSchedule {
  return {
    period,
    kind,
    source,
    tickAt: (now) => Math.floor(now / period) * period,
    dueAt: (tick) => tick + period,
    ticksBetween: (from, to, limit) => periodic(period, from, to, limit),
  };
}

/** A cron given a fixed `period`: ticks are its multiples, a firing stands for the nearest one. */
function multiples(period: number, source: TickSchedule['source']): TickSchedule {
  return {
    period,
    kind: 'cron',
    source,
    tickAt: (now) => Math.round(now / period) * period,
    dueAt: (tick) => tick,
    ticksBetween: (from, to, limit) => periodic(period, from, to, limit),
  };
}

function periodic(period: number, from: number, to: number, limit: number): number[] {
  const ticks: number[] = [];
  const first = Math.max(Math.ceil(from / period), Math.ceil(to / period) - limit);
  for (let n = first; n * period < to; n++) ticks.push(n * period);
  return ticks;
}

async function cronSchedule(
  expression: string,
  timeZone: string | undefined,
): Promise<TickSchedule> {
  // `cron` comes with @nestjs/schedule, which is installed whenever @Cron is used.
  const specifier = 'cron';
  const { CronTime } = (await import(specifier)) as {
    CronTime: new (source: string, tz?: string) => CronTimeLike;
  };
  const time = new CronTime(expression, timeZone);
  /** The first occurrence strictly after `at`. */
  const after = (at: number) => time.getNextDateFrom(new Date(at), timeZone).toMillis();
  const first = after(Date.now());
  const period = after(first) - first;
  return {
    period,
    kind: 'cron',
    source: 'cron',
    // Nodes fire at an occurrence, give or take their clock skew (less than half a period).
    tickAt: (now) => after(now - period / 2 - 1),
    dueAt: (tick) => tick,
    ticksBetween(from, to, limit) {
      const ticks: number[] = [];
      for (let at = after(from - 1); at < to; at = after(at)) {
        ticks.push(at);
        if (ticks.length > limit) ticks.shift();
      }
      return ticks;
    },
  };
}
