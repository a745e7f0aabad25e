// A cron's occurrences from a parser that can only say "the first occurrence after": the latest at
// or before an instant, the next one, and those of a stretch; every search bounded, always forward.
import { DiscoveryError } from '../common/errors.js';
import type { NextOccurrence } from './cron-parser.js';

/** A search over a cron's occurrences went past its bound (parser calls or time). */
export class CronSearchError extends DiscoveryError {}

/** Cron fields are whole seconds: the parser answers the same for every instant of one second. */
const SECOND = 1000;
/** The parser looks at most 8 years ahead; a gap (29 February of a century) can be that long. */
const MAX_GAP = 9 * 366 * 86_400_000;
/** Occurrences walked one by one before a search bisects instead. */
const WALK = 6;
/** The parser's latest answers kept (it is pure: the same instant, the same answer). */
const MEMO = 16;

export interface SearchBounds {
  /** Parser calls one operation may make. */
  calls: number;
  /** ms one operation may take. */
  ms: number;
}

/**
 * A cold search takes about log4(gap / 1 s) + 3 calls (under 60 for a 29-February cron, more
 * for bursts such as every second of one hour a day); a firing in the steady state takes one. The parser (`cron`) costs 0.1-1 ms a call.
 */
export const DEFAULT_BOUNDS: SearchBounds = { calls: 400, ms: 1000 };

/**
 * The occurrences of one cron. `next` is sanitized: it always moves forward, even where the parser
 * goes backwards (the `cron` package does for about an hour after the southern-hemisphere autumn
 * change, kelektiv/node-cron#881): there the next occurrence is the first the parser gives past
 * the stretch where it answers backwards. Answers depend only on the instant asked about, never on
 * what was asked before, so every node gets the same ones.
 */
export class CronOccurrences {
  /** Parser calls made, in total and by the last operation (for tests and bounds). */
  calls = 0;
  lastCalls = 0;
  private budget = 0;
  private deadline = 0;
  /** The latest answer of `latestAtOrBefore`: `prev` and its successor `next`. */
  private cached: { prev: number; next: number } | undefined;
  /** The parser's latest answers, by instant asked (oldest first, at most MEMO). */
  private readonly answers = new Map<number, number>();

  constructor(
    private readonly parse: NextOccurrence,
    private readonly label: string,
    private readonly bounds: SearchBounds = DEFAULT_BOUNDS,
  ) {}

  /** The first occurrence strictly after `after`. */
  next(after: number): number {
    return this.operation(() => this.forward(Math.floor(after)));
  }

  /** The latest occurrence at or before `at`. */
  latestAtOrBefore(at: number): number {
    return this.operation(() => {
      const cached = this.cached;
      at = Math.floor(at);
      if (cached && cached.prev <= at && at < cached.next) return cached.prev;
      if (cached && at >= cached.next) {
        // The steady state: one call per firing.
        const after = this.forward(cached.next);
        if (at < after) return this.remember(cached.next, after);
      }
      const prev = this.search(at);
      const next = this.forward(prev);
      // Only moving forward changes the cache, so that ticksBetween's walks back leave it alone.
      if (!cached || prev >= cached.prev) this.remember(prev, next);
      return prev;
    });
  }

  /** Occurrences t with `from <= t < to`, the newest `limit` of them, oldest first. */
  between(from: number, to: number, limit: number): number[] {
    // A walk back costs a search per occurrence: allow for `limit` of them.
    return this.operation(
      () => {
        const ticks: number[] = [];
        if (limit <= 0 || to <= from) return ticks;
        // Usually few: walk forward from the occurrence before `from`, one call each. (Not from
        // `from` itself: an occurrence that a DST gap moved, like 02:30 on a spring-forward day, is
        // the next one only from before the gap.)
        let at = this.forward(this.search(Math.ceil(from) - 1));
        for (; at < to && ticks.length < limit; at = this.forward(at)) ticks.push(at);
        if (at >= to) return ticks;
        // More than `limit`: the newest ones, walking back from `to`.
        const newest: number[] = [];
        for (at = this.search(Math.ceil(to) - 1); at >= from && newest.length < limit;) {
          newest.push(at);
          at = this.search(at - 1);
        }
        return newest.reverse();
      },
      this.bounds.calls + 64 * limit,
    );
  }

  private remember(prev: number, next: number): number {
    this.cached = { prev, next };
    return prev;
  }

  /**
   * The latest occurrence at or before `at`: back off (1 s, 4 s, 16 s...) until an occurrence lies
   * in (at - d, at], walk forward a few occurrences, and bisect down to the second if more remain.
   */
  private search(at: number): number {
    let hi = at;
    let lo: number;
    for (let back = SECOND; ; back *= 4) {
      if (back > MAX_GAP) {
        throw new CronSearchError(`${this.label}: no occurrence in the ${MAX_GAP} ms before ${at}`);
      }
      lo = at - back;
      if (this.forward(lo) <= at) break;
      hi = lo;
    }
    // forward(lo) <= at < forward(hi). Regular crons have one to three occurrences in between.
    let found = this.forward(lo);
    for (let step = 0; step < WALK; step++) {
      const after = this.forward(found);
      if (after > at) return found;
      found = after;
    }
    // A burst (every second of an hour...): bisect for the last x with forward(x) <= at.
    lo = found;
    while (hi - lo > SECOND) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.forward(mid) <= at) lo = mid;
      else hi = mid;
    }
    found = this.forward(lo);
    // Where the parser is not monotonic the bisection may land short: walk on, still bounded.
    for (let after = this.forward(found); after <= at; after = this.forward(found)) found = after;
    return found;
  }

  /** The parser's next occurrence after `after`, forced forward where the parser goes back. */
  private forward(after: number): number {
    if (this.cached?.prev === after) return this.cached.next; // the same pure answer, kept
    const answer = this.call(after);
    if (answer > after) return answer;
    // Backwards (or standing still): find where the parser moves forward again, then the first
    // occurrence it gives from there, so that the answer is past `after` and the same for every
    // instant of the stretch.
    let bad = after;
    let good: number | undefined;
    for (let step = SECOND; step <= MAX_GAP; step *= 2) {
      const probe = after + step;
      if (this.call(probe) > probe) {
        good = probe;
        break;
      }
      bad = probe;
    }
    if (good === undefined) {
      throw new CronSearchError(`${this.label}: the parser never moves forward after ${after}`);
    }
    while (good - bad > SECOND) {
      const mid = Math.floor((bad + good) / 2);
      if (this.call(mid) > mid) good = mid;
      else bad = mid;
    }
    return this.call(good);
  }

  /**
   * The parser's answer after `after`. An answer kept from before is not a parser call (0.1-1 ms
   * saved), but counts against the operation's bound like one, so that every search still ends.
   */
  private call(after: number): number {
    if (--this.budget < 0 || performance.now() > this.deadline) {
      throw new CronSearchError(
        `${this.label}: a search gave up after ${this.lastCalls} parser calls (its bound in calls or ${this.bounds.ms} ms)`,
      );
    }
    const kept = this.answers.get(after);
    if (kept !== undefined) return kept;
    this.calls += 1;
    this.lastCalls += 1;
    const answer = this.parse(after);
    if (!Number.isFinite(answer)) {
      throw new CronSearchError(`${this.label}: the parser answered ${answer} after ${after}`);
    }
    if (this.answers.size >= MEMO) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(after, answer);
    return answer;
  }

  private operation<T>(work: () => T, calls = this.bounds.calls): T {
    this.lastCalls = 0;
    this.budget = calls;
    this.deadline = performance.now() + this.bounds.ms;
    return work();
  }
}
