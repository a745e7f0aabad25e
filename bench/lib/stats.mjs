// Tiny statistics helper: percentiles over samples, and timing loops with warm-up.
import { performance, PerformanceObserver } from 'node:perf_hooks';

// Every GC pause of this process, as [start, end] in performance.now() time: a sample that
// overlaps one was (at least partly) waiting for the collector.
const gcPauses = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push([e.startTime, e.startTime + e.duration]);
}).observe({ entryTypes: ['gc'] });

/** Percentile `p` (0..100) of an ascending array, linear interpolation between closest ranks. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/**
 * n, min, mean, p50 (median), p90, p99, max of `samples`; for samples timed by `timeAsync`, also
 * how many overlapped a GC pause and the p99 of the others.
 */
export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  const summary = {
    n: sorted.length,
    min: sorted[0],
    mean,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
  if (samples.withoutGc) {
    summary.gcHits = samples.length - samples.withoutGc.length;
    summary.p99WithoutGc = percentile(Float64Array.from(samples.withoutGc).sort(), 99);
  }
  return summary;
}

/** Marks which samples (start times in `starts`, durations in ms) overlapped a GC pause. */
export async function splitGc(samples, starts) {
  await sleep(5); // GC entries arrive asynchronously
  const pauses = gcPauses.filter(([, end]) => end >= starts[0]);
  let p = 0;
  samples.withoutGc = samples.filter((ms, i) => {
    const start = starts[i];
    const end = start + ms;
    while (p < pauses.length && pauses[p][1] < start) p++;
    return !(p < pauses.length && pauses[p][0] <= end);
  });
  return samples;
}

const nowNs = () => process.hrtime.bigint();

/**
 * Times `fn` call by call (ms per call): `warmup` untimed calls, then up to `iterations` timed calls,
 * stopping early (but after at least `min`) once `budgetMs` of timed work has passed.
 */
export async function timeAsync(fn, { warmup = 0, iterations, min = 5, budgetMs = Infinity }) {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples = [];
  const starts = [];
  const stopAt = performance.now() + budgetMs;
  for (let i = 0; i < iterations; i++) {
    starts.push(performance.now());
    const start = nowNs();
    await fn(i);
    samples.push(Number(nowNs() - start) / 1e6);
    if (i + 1 >= min && performance.now() > stopAt) break;
  }
  return splitGc(samples, starts);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value. */
export async function waitFor(probe, { timeout = 10_000, interval = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}
