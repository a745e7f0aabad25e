// Loads the `cron` package (the one @nestjs/schedule fires @Cron with) and turns a job's cron
// expression into a "first occurrence after" function; bad input and a missing package fail clearly.
import { createRequire } from 'node:module';
import { DiscoveryError, InvalidArgumentError } from '../common/errors.js';
import { moduleRequire } from '../common/module-require.js';

/** The first occurrence strictly after `after` (ms). The parser's answer, not yet checked. */
export type NextOccurrence = (after: number) => number;

/** Where a cron fires: the expression and its zone, as given to `@Cron`. */
export interface CronSpec {
  expression: string;
  timeZone?: string;
  /** Minutes east of UTC (cron's `utcOffset`). */
  utcOffset?: number;
}

/** The `cron` package (a dependency of this library) cannot be loaded: a broken install. */
export class CronPackageMissingError extends DiscoveryError {}

interface CronTimeLike {
  timeZone?: string;
  getNextDateFrom(start: Date, timeZone?: string): { toMillis(): number };
}
type CronTimeClass = new (
  source: string,
  timeZone?: string | null,
  utcOffset?: number | null,
) => CronTimeLike;

interface LuxonSettings {
  now: () => number;
}

let loaded: CronTimeClass | undefined;
/** The luxon that `cron` computes with, if it can be reached (see `pinnedNow`). */
let luxon: LuxonSettings | null | undefined;

/**
 * `cron`'s CronTime: the same code that computes when @nestjs/schedule fires, so ticks and firings
 * agree (a dependency in the range @nestjs/schedule pins, so package managers install one copy).
 */
function cronTime(job: string): CronTimeClass {
  if (loaded) return loaded;
  const require = moduleRequire;
  try {
    loaded = (require('cron') as { CronTime: CronTimeClass }).CronTime;
  } catch (error) {
    throw new CronPackageMissingError(
      `Distributed job ${job} uses @Cron, and nestjs-redis-discovery needs its \`cron\` dependency ` +
        `(the package @nestjs/schedule fires with) to tell its ticks, but could not load it ` +
        `(${(error as Error).message?.split('\n')[0]}). Reinstall, or add it to your app: npm install cron@^4`,
    );
  }
  if (typeof loaded !== 'function') {
    loaded = undefined;
    throw new CronPackageMissingError(
      `Distributed job ${job}: the installed \`cron\` package has no CronTime; install cron@^4`,
    );
  }
  try {
    // luxon as cron resolves it: its own dependency, reachable under strict installs too.
    const cronRequire = createRequire(require.resolve('cron'));
    luxon = (cronRequire('luxon') as { Settings?: LuxonSettings }).Settings ?? null;
  } catch {
    luxon = null;
  }
  return loaded;
}

/**
 * Runs cron's computation of the next occurrence after `after` as cron does when it fires at
 * `after`: with luxon's clock reading `after`. cron's answer depends on the time it is computed
 * at (luxon guesses the zone's offset from "now" for a wall time that a DST change repeats), so
 * without this, nodes would name different ticks depending on when they ask; with it, every
 * answer depends on `after` alone. Synchronous, and luxon's clock is restored at once.
 */
function pinnedNow<T>(after: number, compute: () => T): T {
  if (!luxon) return compute();
  const settings = luxon;
  const real = settings.now;
  settings.now = () => after;
  try {
    return compute();
  } finally {
    settings.now = real;
  }
}

/** cron's fixed-offset zone name for `utcOffset` minutes, as CronTime.sendAt() builds it. */
function offsetZone(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const hours = Math.trunc(minutes / 60);
  const rest = Math.abs(minutes - hours * 60);
  return `UTC${sign}${String(Math.abs(hours)).padStart(2, '0')}:${String(rest).padStart(2, '0')}`;
}

/**
 * Parses `spec` for job `job`. Throws `InvalidArgumentError` naming both when the expression, the
 * zone or the offset is refused, or when the expression never occurs (e.g. 30 February).
 */
export function parseCron(job: string, spec: CronSpec): NextOccurrence {
  const CronTime = cronTime(job);
  const where =
    spec.timeZone !== undefined
      ? ` in time zone ${spec.timeZone}`
      : spec.utcOffset !== undefined
        ? ` at UTC offset ${spec.utcOffset} min`
        : '';
  let time: CronTimeLike;
  try {
    time =
      spec.utcOffset !== undefined && spec.timeZone === undefined
        ? new CronTime(spec.expression, null, spec.utcOffset)
        : new CronTime(spec.expression, spec.timeZone ?? null, null);
  } catch (error) {
    throw new InvalidArgumentError(
      `@DistributedJob() ${job}: @Cron expression '${spec.expression}'${where} is not valid: ${(error as Error).message}`,
    );
  }
  // The zone CronJob fires in: the given one, the offset's, or the system zone CronTime picked.
  const zone = spec.utcOffset !== undefined ? offsetZone(spec.utcOffset) : time.timeZone;
  const next: NextOccurrence = (after) =>
    pinnedNow(after, () => time.getNextDateFrom(new Date(after), zone).toMillis());
  try {
    const first = next(Date.now());
    if (!Number.isFinite(first)) throw new Error(`no valid date (${first})`);
  } catch (error) {
    throw new InvalidArgumentError(
      `@DistributedJob() ${job}: @Cron expression '${spec.expression}'${where} never occurs: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return next;
}
