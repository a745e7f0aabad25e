// The demo's settings: the environment it reads (DEMO_PHASE_MS, HEARTBEAT_INTERVAL, HEARTBEAT_TTL)
// and its fixed constants: node ids, paths, the counting margins and the sample's job periods.
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../.build/sample/main.js', import.meta.url));
export const NODE_IDS = ['node-1', 'node-2', 'node-3'];
export const PHASE_MS = positive(process.env.DEMO_PHASE_MS, 10_000);
export const HEARTBEAT_INTERVAL = positive(process.env.HEARTBEAT_INTERVAL, 500);
export const HEARTBEAT_TTL = positive(process.env.HEARTBEAT_TTL, 2000);
/** Ticks this close to the start or the end of the run are not counted. */
export const MARGIN_MS = 2000;
/** A tick with no run this long after it is shown as missed. */
export const LATE_MS = 1500;
/** Until the first GET /jobs answers: the sample's jobs and periods. */
export const DEFAULT_PERIODS = { report: 1000, cleanup: 2000, digest: 5000 };
/** Where the sample mounts its live cluster page (DiscoveryDashboardModule). */
export const CLUSTER_PAGE_PATH = '/cluster';

function positive(raw, fallback) {
  const value = Number(raw);
  return raw !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}
