// Types for free-port.mjs (plain JavaScript, so scripts run it without a build).

/** A TCP port free on 127.0.0.1 right now; released before it is returned. */
export function freePort(): Promise<number>;
