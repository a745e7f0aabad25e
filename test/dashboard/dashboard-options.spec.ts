import { describe, expect, it } from '@jest/globals';
import { Injectable, type CanActivate } from '@nestjs/common';
import { DiscoveryDashboardModule, InvalidOptionError } from 'nestjs-redis-discovery';
import { validateDashboardOptions } from '../../lib/dashboard/validate-dashboard-options.js';

@Injectable()
class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

function expectRejected(input: unknown, option: string, message: string): void {
  let thrown: unknown;
  try {
    DiscoveryDashboardModule.forRoot(input as never);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidOptionError);
  const { option: named, message: said } = thrown as InvalidOptionError;
  expect({ option: named, message: said }).toEqual({ option, message });
}

describe('DiscoveryDashboardModule.forRoot options', () => {
  it('defaults: the page at /cluster, no guard, a 500 ms poll, 50 events, 10 runs per job, slow clients closed after 30 s', () => {
    for (const input of [undefined, {}]) {
      expect(validateDashboardOptions(input)).toEqual({
        path: 'cluster',
        guard: undefined,
        pollInterval: 500,
        maxEvents: 50,
        recentRuns: 10,
        slowClientTimeout: 30_000,
        actions: false,
      });
    }
  });

  it('takes a nested path with or without slashes, and a guard class', () => {
    const resolved = validateDashboardOptions({ path: '/ops/cluster/', guard: AllowAll });
    expect(resolved.path).toBe('ops/cluster');
    expect(resolved.guard).toBe(AllowAll);
    expect(validateDashboardOptions({ recentRuns: 0 }).recentRuns).toBe(0);
    expect(validateDashboardOptions({ slowClientTimeout: 1000 }).slowClientTimeout).toBe(1000);
  });

  it('refuses bad values with an InvalidOptionError naming the option', () => {
    const pathRule =
      'path must be a URL path such as "cluster" or "ops/cluster": letters, digits and . _ ~ - between slashes';
    expectRejected({ path: '' }, 'path', `${pathRule} (got "")`);
    expectRejected({ path: '/' }, 'path', `${pathRule} (got "/")`);
    expectRejected({ path: 'a b' }, 'path', `${pathRule} (got "a b")`);
    expectRejected({ path: 'ops//cluster' }, 'path', `${pathRule} (got "ops//cluster")`);
    expectRejected({ path: ':id' }, 'path', `${pathRule} (got ":id")`);
    expectRejected({ path: 7 }, 'path', `${pathRule} (got number 7)`);
    const guardRule =
      'guard must be a guard class (a class with a canActivate() method), not an instance';
    expectRejected(
      { guard: new AllowAll() },
      'guard',
      `${guardRule} (got an instance of AllowAll)`,
    );
    expectRejected({ guard: class NoGuard {} }, 'guard', `${guardRule} (got a function)`);
    expectRejected(
      { pollInterval: 50 },
      'pollInterval',
      'pollInterval (number 50) must be an integer from 100 to 60000',
    );
    expectRejected(
      { maxEvents: 0 },
      'maxEvents',
      'maxEvents (number 0) must be an integer from 1 to 1000',
    );
    expectRejected(
      { recentRuns: 1.5 },
      'recentRuns',
      'recentRuns (number 1.5) must be an integer from 0 to 100',
    );
    expectRejected(
      { slowClientTimeout: 999 },
      'slowClientTimeout',
      'slowClientTimeout (number 999) must be an integer from 1000 to 3600000',
    );
    expectRejected(
      { path: 'cluster', signingKey: 'x' },
      'signingKey',
      'Unknown dashboard option "signingKey"; known options: path, guard, pollInterval, maxEvents, recentRuns, slowClientTimeout, actions',
    );
    expectRejected(
      { actions: true },
      'actions',
      'actions (pause, resume, trigger from the page) need a guard: set guard to a class that lets in only operators',
    );
    expectRejected(
      { actions: 'yes', guard: AllowAll },
      'actions',
      'actions must be true or false (got "yes")',
    );
    expect(validateDashboardOptions({ actions: true, guard: AllowAll }).actions).toBe(true);
    expectRejected('cluster', 'options', 'dashboard options must be an object (got "cluster")');
  });
});
