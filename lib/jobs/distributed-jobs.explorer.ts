// Finds the `@DistributedJob()` methods of the app's providers and controllers at module init,
// registers each job with its schedule, and binds their instances to the runner.
import { Injectable } from '@nestjs/common';
import { DiscoveryService as NestDiscoveryService, MetadataScanner } from '@nestjs/core';
import { DISTRIBUTED_JOB_METADATA } from '../discovery.constants.js';
import type { DistributedJobMetadata } from './distributed-job.decorator.js';
import { DistributedJobs } from './distributed-jobs.service.js';
import { bindJobs } from './job-binding.js';
import { resolveSchedule } from './tick-schedule.js';

/**
 * Finds every `@DistributedJob()` method of the app's providers and controllers and binds it to the
 * runner. The binding stays for the instance's life: a tick that fires while the app shuts down
 * reaches the runner, which skips it, rather than failing as unbound.
 */
@Injectable()
export class DistributedJobsExplorer {
  constructor(
    private readonly nestDiscovery: NestDiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly jobs: DistributedJobs,
  ) {}

  async explore(): Promise<void> {
    const wrappers = [...this.nestDiscovery.getProviders(), ...this.nestDiscovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      let found = false;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[methodName];
        if (typeof method !== 'function') continue;
        const metadata = Reflect.getMetadata(DISTRIBUTED_JOB_METADATA, method) as
          DistributedJobMetadata | undefined;
        if (!metadata) continue;
        this.jobs.register(
          metadata.name,
          resolveSchedule(metadata.name, method, metadata.period),
          metadata.options,
          { instance, method: metadata.original, args: [] },
        );
        found = true;
      }
      if (found) bindJobs(instance, this.jobs);
    }
  }
}
