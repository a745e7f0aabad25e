// The page's three routes, `GET <path>`, `<path>/state` and `<path>/events`, and with `actions`
// `POST <path>/jobs/<job>/<action>`, on a controller class made per `forRoot()` so that its path,
// guard and routes can vary.
import {
  Controller,
  ForbiddenException,
  Get,
  Header,
  Headers,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Res,
  UseGuards,
  type CanActivate,
  type Type,
} from '@nestjs/common';
import { UnknownJobError } from '../common/errors.js';
import { ClusterMonitor } from './cluster-monitor.js';
import type { ClusterState } from './cluster-state.js';
import { DASHBOARD_PAGE, DASHBOARD_PAGE_POLICY } from './dashboard-page.js';
import type { StreamResponse } from './stream-connection.js';

/** The header a state-changing request of the page must carry (its script sets it). */
export const ACTION_HEADER = 'x-discovery-action';

export function createDashboardController(
  path: string,
  guard: Type<CanActivate> | undefined,
  actions = false,
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

    /** Pause, resume or trigger a job (only routed with `actions`, behind the guard). */
    async act(
      @Param('job') job: string,
      @Param('action') action: string,
      @Headers(ACTION_HEADER) header: string | undefined,
    ): Promise<unknown> {
      if (header !== '1') {
        throw new ForbiddenException(`A page action needs the header ${ACTION_HEADER}: 1`);
      }
      try {
        return await this.monitor.operate(job, action);
      } catch (error) {
        if (error instanceof UnknownJobError) throw new NotFoundException(error.message);
        throw error;
      }
    }
  }
  if (actions) {
    const prototype = DiscoveryDashboardController.prototype;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, 'act')!;
    Post('jobs/:job/:action')(prototype, 'act', descriptor);
    HttpCode(200)(prototype, 'act', descriptor);
    Header('Cache-Control', 'no-store')(prototype, 'act', descriptor);
  }
  Controller(path)(DiscoveryDashboardController);
  if (guard) UseGuards(guard)(DiscoveryDashboardController);
  return DiscoveryDashboardController;
}
