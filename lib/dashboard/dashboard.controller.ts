// The page's three routes, `GET <path>`, `<path>/state` and `<path>/events`, on a controller class
// made per `forRoot()` so that its path and guard can vary.
import {
  Controller,
  Get,
  Header,
  Inject,
  Res,
  UseGuards,
  type CanActivate,
  type Type,
} from '@nestjs/common';
import { ClusterMonitor } from './cluster-monitor.js';
import type { ClusterState } from './cluster-state.js';
import { DASHBOARD_PAGE, DASHBOARD_PAGE_POLICY } from './dashboard-page.js';
import type { StreamResponse } from './stream-connection.js';

export function createDashboardController(
  path: string,
  guard: Type<CanActivate> | undefined,
): Type<unknown> {
  class DiscoveryDashboardController {
    constructor(@Inject(ClusterMonitor) private readonly monitor: ClusterMonitor) {}

    @Get()
    @Header('Content-Type', 'text/html; charset=utf-8')
    @Header('Cache-Control', 'no-store')
    @Header('Content-Security-Policy', DASHBOARD_PAGE_POLICY)
    @Header('X-Content-Type-Options', 'nosniff')
    page(): string {
      return DASHBOARD_PAGE;
    }

    @Get('state')
    @Header('Cache-Control', 'no-store')
    state(): Promise<ClusterState> {
      return this.monitor.read();
    }

    @Get('events')
    events(@Res() response: { raw?: StreamResponse; hijack?: () => unknown }): void {
      // Written by the monitor itself, on the Node response (`raw` under Fastify, which must not
      // answer it), not through @Sse(): so it knows what a slow client has not read yet.
      response.hijack?.();
      this.monitor.stream(response.raw ?? (response as StreamResponse));
    }
  }
  Controller(path)(DiscoveryDashboardController);
  if (guard) UseGuards(guard)(DiscoveryDashboardController);
  return DiscoveryDashboardController;
}
