// The clock of the in-memory registry and job claims: what Redis `TIME` is to the Redis stores.

/** ms, monotonic (as Redis TIME is meant to be): immune to changes of the wall clock. */
export function memoryNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}
