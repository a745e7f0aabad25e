// Checks the options of the live cluster page and fills in their defaults; a bad value throws an
// `InvalidOptionError` naming the option, when `forRoot()` is called.
import { InvalidOptionError } from '../common/errors.js';
import { describe, isPlainObject } from '../common/field-rules.js';
import { integer } from '../options/option-checks.js';
import type {
  DiscoveryDashboardOptions,
  ResolvedDashboardOptions,
} from './dashboard-options.interface.js';

const KNOWN_KEYS: ReadonlyArray<keyof DiscoveryDashboardOptions> = [
  'path',
  'guard',
  'pollInterval',
  'maxEvents',
  'recentRuns',
  'slowClientTimeout',
  'actions',
];

/** One or more URL path segments of unreserved characters, e.g. `cluster` or `ops/cluster`. */
const PATH = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

export function validateDashboardOptions(input: unknown): ResolvedDashboardOptions {
  if (input === undefined) input = {};
  if (!isPlainObject(input)) {
    throw new InvalidOptionError(
      'options',
      `dashboard options must be an object (got ${describe(input)})`,
    );
  }
  const options = input as DiscoveryDashboardOptions;
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.includes(key as keyof DiscoveryDashboardOptions)) {
      throw new InvalidOptionError(
        key,
        `Unknown dashboard option "${key}"; known options: ${KNOWN_KEYS.join(', ')}`,
      );
    }
  }
  const guard = checkGuard(options.guard);
  return {
    path: checkPath(options.path),
    guard,
    actions: checkActions(options.actions, guard),
    pollInterval: integer('pollInterval', options.pollInterval, 500, 100, 60_000),
    maxEvents: integer('maxEvents', options.maxEvents, 50, 1, 1000),
    recentRuns: integer('recentRuns', options.recentRuns, 10, 0, 100),
    slowClientTimeout: integer(
      'slowClientTimeout',
      options.slowClientTimeout,
      30_000,
      1000,
      3_600_000,
    ),
  };
}

function checkPath(value: unknown): string {
  if (value === undefined) return 'cluster';
  const path = typeof value === 'string' ? value.replace(/^\/+|\/+$/g, '') : undefined;
  if (path === undefined || !PATH.test(path)) {
    throw new InvalidOptionError(
      'path',
      `path must be a URL path such as "cluster" or "ops/cluster": letters, digits and . _ ~ - between slashes (got ${describe(value)})`,
    );
  }
  return path;
}

function checkGuard(value: unknown): DiscoveryDashboardOptions['guard'] {
  if (value === undefined) return undefined;
  const prototype = (value as { prototype?: { canActivate?: unknown } } | null)?.prototype;
  if (typeof value !== 'function' || typeof prototype?.canActivate !== 'function') {
    throw new InvalidOptionError(
      'guard',
      `guard must be a guard class (a class with a canActivate() method), not an instance (got ${describe(value)})`,
    );
  }
  return value as DiscoveryDashboardOptions['guard'];
}

function checkActions(value: unknown, guard: DiscoveryDashboardOptions['guard']): boolean {
  if (value === undefined || value === false) return false;
  if (value !== true) {
    throw new InvalidOptionError(
      'actions',
      `actions must be true or false (got ${describe(value)})`,
    );
  }
  if (!guard) {
    throw new InvalidOptionError(
      'actions',
      'actions (pause, resume, trigger from the page) need a guard: set guard to a class that lets in only operators',
    );
  }
  return true;
}
