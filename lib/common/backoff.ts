// Backoff delays for heartbeat retries and a start waiting for Redis: exponential with jitter, a
// random delay in [delay/2, delay], the delay doubling per attempt up to `max`.

export function backoffDelay(
  attempt: number,
  initial: number,
  max: number,
  random = Math.random,
): number {
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
