// The schedules users write, the zones they run in and the instants processes start at, for the
// simulated-clock test of cron ticks (test/jobs/cron-corpus.spec.ts).

/** Real expressions: `CronExpression` values of @nestjs/schedule and crontab lines users write. */
export const EXPRESSIONS = [
  // CronExpression (@nestjs/schedule)
  '* * * * * *', // EVERY_SECOND
  '*/5 * * * * *', // EVERY_5_SECONDS
  '*/30 * * * * *', // EVERY_30_SECONDS
  '*/1 * * * *', // EVERY_MINUTE
  '0 */5 * * * *', // EVERY_5_MINUTES
  '0 */30 * * * *', // EVERY_30_MINUTES
  '0 0-23/1 * * *', // EVERY_HOUR
  '0 0-23/3 * * *', // EVERY_3_HOURS
  '0 01 * * *', // EVERY_DAY_AT_1AM
  '0 02 * * *', // EVERY_DAY_AT_2AM
  '0 03 * * *', // EVERY_DAY_AT_3AM
  '0 0 * * *', // EVERY_DAY_AT_MIDNIGHT
  '0 0 * * 0', // EVERY_WEEK
  '0 0 * * 1-5', // EVERY_WEEKDAY
  '0 0 * * 6,0', // EVERY_WEEKEND
  '0 0 1 * *', // EVERY_1ST_DAY_OF_MONTH_AT_MIDNIGHT
  '0 1-23/2 * * *', // EVERY_2_HOURS odd
  '0 */30 9-17 * * *', // EVERY_30_MINUTES_BETWEEN_9AM_AND_5PM
  '0 30 09 * * 1-5', // MONDAY_TO_FRIDAY_AT_09_30AM
  '0 0 02 * * 1-5', // MONDAY_TO_FRIDAY_AT_2AM
  // What users write
  '0 0 9,17 * * *', // twice a day, uneven gaps
  '0 0 9 * * 1-5', // weekdays at 9
  '0 */15 9-17 * * 1-5', // business hours
  '0,1,2,30 * * * * *', // seconds list: gaps of 1, 1, 28, 30 s
  '0 30 2 * * *', // inside the spring-forward gap of New York and Europe
  '0 30 1 * * *', // inside the fall-back overlap of New York
  '0 15 2 * * *', // inside the Lord Howe and Australian changes
  '0 0 0 1 * *', // first of the month
  '0 45 23 * * 5', // Friday night
  '*/7 * * * * *', // seconds that do not divide a minute
  '0 0 */6 * * *', // every 6 hours
  '0 10,40 * * * *', // twice an hour
  '@hourly',
  '@daily',
];

export const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Sydney',
  'Australia/Melbourne',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
];

/** Fixed offsets (`utcOffset`, minutes), as some apps give them instead of a zone. */
export const OFFSETS = [-300];

/** The DST changes of 2025 in both hemispheres (UTC instants). */
export const CHANGES: Record<string, number[]> = {
  'Europe/Berlin': [Date.parse('2025-03-30T01:00:00Z'), Date.parse('2025-10-26T01:00:00Z')],
  'America/New_York': [Date.parse('2025-03-09T07:00:00Z'), Date.parse('2025-11-02T06:00:00Z')],
  // Sydney and Melbourne: back at 03:00 AEDT in April, forward at 02:00 AEST in October.
  'Australia/Sydney': [Date.parse('2025-04-05T16:00:00Z'), Date.parse('2025-10-04T16:00:00Z')],
  'Australia/Melbourne': [Date.parse('2025-04-05T16:00:00Z'), Date.parse('2025-10-04T16:00:00Z')],
  // Lord Howe: half an hour, back at 02:00 in April, forward at 02:00 in October.
  'Australia/Lord_Howe': [Date.parse('2025-04-05T15:00:00Z'), Date.parse('2025-10-04T15:30:00Z')],
};

export function changesOf(zone: string | undefined): number[] {
  return zone ? (CHANGES[zone] ?? []) : [];
}

/** Starts just before a change (so the firings cross it), at odd phases. */
const BEFORE_CHANGE = [5_300, 3 * 3_600_000 + 77_000, 2 * 86_400_000 + 4_321];

/**
 * Process start instants: before each change of the zone, and spread over the two stretches of
 * several weeks that hold the changes of both hemispheres (March-April, late September-November).
 */
export function startInstants(zone: string | undefined): number[] {
  const starts: number[] = [];
  for (const change of changesOf(zone)) {
    for (const before of BEFORE_CHANGE) starts.push(change - before);
  }
  for (const [from, to] of [
    ['2025-03-01T00:00:00Z', '2025-04-12T00:00:00Z'],
    ['2025-09-27T00:00:00Z', '2025-11-08T00:00:00Z'],
  ]) {
    // Every 21.3 days and 3 h 17.3 min, so starts fall on various weekdays and times of day.
    const step = 21.3 * 86_400_000 + 11_833_000;
    for (let at = Date.parse(from) + 12_345; at < Date.parse(to); at += step) starts.push(at);
  }
  return starts;
}
