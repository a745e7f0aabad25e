/** Metadata keys of `@nestjs/schedule`, read by value so the library does not depend on it. */
const CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';
const INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';
const TIMEOUT_OPTIONS = 'SCHEDULE_TIMEOUT_OPTIONS';

export const DEFAULT_PERIOD = 1000;

/**
 * What "one tick" of a job is. Every node computes the tick a firing stands for from Redis server
 * time, so nodes agree on it even when their own clocks are off by up to a quarter period.
 */
export interface TickSchedule {
  /** ms between ticks. */
  period: number;
  source: 'option' | 'cron' | 'interval' | 'timeout' | 'default';
  /** The scheduled time nearest to `serverNow`. */
  nearest(serverNow: number): number;
}

interface CronTimeLike {
  getNextDateFrom(start: Date, timeZone?: string): { toMillis(): number };
}

export async function resolveSchedule(
  method: object,
  period: number | undefined,
): Promise<TickSchedule> {
  if (period !== undefined) return fixed(period, 'option');
  const interval = Reflect.getMetadata(INTERVAL_OPTIONS, method) as
    { timeout?: number } | undefined;
  if (interval?.timeout) return fixed(interval.timeout, 'interval');
  const cron = Reflect.getMetadata(CRON_OPTIONS, method) as
    { cronTime?: unknown; timeZone?: string } | undefined;
  if (typeof cron?.cronTime === 'string') return cronSchedule(cron.cronTime, cron.timeZone);
  const timeout = Reflect.getMetadata(TIMEOUT_OPTIONS, method) as { timeout?: number } | undefined;
  if (timeout?.timeout) return fixed(timeout.timeout, 'timeout');
  return fixed(DEFAULT_PERIOD, 'default');
}

function fixed(period: number, source: TickSchedule['source']): TickSchedule {
  return { period, source, nearest: (now) => Math.round(now / period) * period };
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
  const after = (at: number) => time.getNextDateFrom(new Date(at), timeZone).toMillis();
  const first = after(Date.now());
  const period = after(first) - first;
  return {
    period,
    source: 'cron',
    nearest(now) {
      const next = after(now);
      const previous = next - (after(next) - next);
      return now - previous <= next - now ? previous : next;
    },
  };
}
