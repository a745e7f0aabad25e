// The options of `DiscoveryDashboardModule.forRoot()` (the live cluster page), as given and as
// resolved with their defaults.
import type { CanActivate, Type } from '@nestjs/common';

export interface DiscoveryDashboardOptions {
  /** URL path of the page, under the app's global prefix. Default `'cluster'`. */
  path?: string;
  /** A guard class applied to the page, its JSON state and its event stream (`@UseGuards`). */
  guard?: Type<CanActivate>;
  /** How often the page's data is checked for changes while a page is open, ms. Default 500. */
  pollInterval?: number;
  /** How many recent cluster events the page lists. Default 50. */
  maxEvents?: number;
  /** How many recent runs of each job the page shows (read from Redis). Default 10; 0: none. */
  recentRuns?: number;
  /**
   * An event stream whose client has not caught up with what it was sent for this long, ms, is
   * closed; until then it gets no state but the latest, once it has caught up. Default 30000.
   */
  slowClientTimeout?: number;
  /**
   * Buttons to pause, resume and trigger jobs from the page (`POST <path>/jobs/<job>/<action>`).
   * Default false. Needs `guard` (refused without one), and each request must carry the header
   * `X-Discovery-Action: 1`, which the page's script sets: a cookie alone (a cross-site form) cannot.
   */
  actions?: boolean;
}

export interface ResolvedDashboardOptions {
  /** Without leading or trailing slashes. */
  path: string;
  guard: Type<CanActivate> | undefined;
  pollInterval: number;
  maxEvents: number;
  recentRuns: number;
  slowClientTimeout: number;
  actions: boolean;
}
