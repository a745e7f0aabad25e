// `DiscoveryDashboardModule.forRoot()`: the opt-in live cluster page, served by the app's own HTTP
// server next to `DiscoveryModule`, whose ServiceDiscovery, NodePool and DistributedJobs it reads.
import { Module, type DynamicModule } from '@nestjs/common';
import { ClusterMonitor } from './cluster-monitor.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import { createDashboardController } from './dashboard.controller.js';
import type { DiscoveryDashboardOptions } from './dashboard-options.interface.js';
import { validateDashboardOptions } from './validate-dashboard-options.js';

/**
 * Import it beside `DiscoveryModule.forRoot()` / `forRootAsync()`, global or not: it finds that
 * module's services in the app. Bad options throw `InvalidOptionError` here, at `forRoot()`.
 */
@Module({})
export class DiscoveryDashboardModule {
  static forRoot(options: DiscoveryDashboardOptions = {}): DynamicModule {
    const resolved = validateDashboardOptions(options);
    return {
      module: DiscoveryDashboardModule,
      controllers: [createDashboardController(resolved.path, resolved.guard, resolved.actions)],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, ClusterMonitor],
    };
  }
}
