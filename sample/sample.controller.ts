import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  Controller,
  Get,
  Param,
  Query,
  type ExceptionFilter,
} from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import {
  DiscoveryHealthIndicator,
  DistributedJobs,
  InvalidArgumentError,
  NodePool,
  ServiceDiscovery,
  type NodeInfo,
} from 'nestjs-redis-discovery';

@Controller()
export class SampleController {
  constructor(
    private readonly discovery: ServiceDiscovery,
    private readonly pool: NodePool,
    private readonly jobs: DistributedJobs,
    private readonly health: HealthCheckService,
    private readonly discoveryHealth: DiscoveryHealthIndicator,
  ) {}

  /** Liveness: the process answers. No Redis involved, so a Redis outage never restarts the pod. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: `ok`, `degraded` (heartbeats failing, lease still valid) or 503. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.discoveryHealth.isHealthy('discovery')]);
  }

  @Get('nodes')
  nodes(): Promise<NodeInfo[]> {
    return this.discovery.getActiveNodes();
  }

  /** `GET /services/sample?version=^1.0.0`: nodes offering a service, optionally by version. */
  @Get('services/:name')
  services(@Param('name') name: string, @Query('version') version?: string): Promise<NodeInfo[]> {
    return this.discovery.findNodesByService(name, version === '' ? undefined : version);
  }

  @Get('jobs')
  jobStatus() {
    return {
      nodeId: this.pool.getNodeId(),
      state: this.pool.getState(),
      nodes: this.pool.getNodes(),
      jobs: this.jobs.list(),
    };
  }
}

/** A bad lookup argument (`/services/%20`) is the caller's mistake: 400, not 500. */
@Catch(InvalidArgumentError)
export class InvalidArgumentFilter extends BaseExceptionFilter implements ExceptionFilter {
  override catch(error: InvalidArgumentError, host: ArgumentsHost): void {
    super.catch(new BadRequestException(error.message), host);
  }
}
