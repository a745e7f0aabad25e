// Two setups that look fine and are not, said once at bootstrap: scheduled jobs without a
// scheduler module (their @Cron / @Interval / @Timeout never fire), and jobs on the in-memory
// registry (each process is its own cluster: every replica runs every tick).
import type { DiscoveryService as NestDiscoveryService } from '@nestjs/core';
import type { JobStatus } from './distributed-job.interface.js';

/** Providers that `ScheduleModule.forRoot()` of @nestjs/schedule registers (by class name: any copy). */
const SCHEDULER_PROVIDERS = new Set(['ScheduleExplorer', 'SchedulerRegistry']);

/** Whether the app has a scheduler module that binds @Cron / @Interval / @Timeout. */
export function hasSchedulerModule(nest: NestDiscoveryService): boolean {
  return nest
    .getProviders()
    .some((wrapper) =>
      SCHEDULER_PROVIDERS.has((wrapper.metatype as { name?: string })?.name ?? ''),
    );
}

export interface JobSetup {
  jobs: readonly Pick<JobStatus, 'name' | 'schedule'>[];
  hasScheduler: boolean;
  inMemory: boolean;
}

/** What is wrong with the setup, one message each (none when it is fine). */
export function jobSetupWarnings({ jobs, hasScheduler, inMemory }: JobSetup): string[] {
  const warnings: string[] = [];
  const scheduled = jobs.filter((job) => job.schedule !== 'manual').map((job) => job.name);
  if (scheduled.length > 0 && !hasScheduler) {
    warnings.push(
      `${list(scheduled)} ${scheduled.length === 1 ? 'has' : 'have'} a @Cron, @Interval or ` +
        `@Timeout schedule, but no scheduler module is loaded, so ${scheduled.length === 1 ? 'it never fires' : 'they never fire'}: ` +
        'import ScheduleModule.forRoot() from @nestjs/schedule in your app module',
    );
  }
  if (jobs.length > 0 && inMemory) {
    warnings.push(
      `${list(jobs.map((job) => job.name))}: the in-memory registry spans this process only, so ` +
        'jobs run once per tick per process: every replica runs every tick. Give the redis option ' +
        'to run them once across replicas',
    );
  }
  return warnings;
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
  return `Distributed job${names.length === 1 ? '' : 's'} ${shown}${more}`;
}
