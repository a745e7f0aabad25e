// The app every smoke scenario builds: the README's quick start, one @Interval job, on the Redis
// that scripts/smoke-pack.mjs starts (REDIS_URL) under a key prefix of its own (SMOKE_PREFIX).
import { Injectable, Module } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import {
  DiscoveryModule,
  DistributedJob,
  getJobContext,
  type JobResult,
} from 'nestjs-redis-discovery';

@Injectable()
export class ReportJob {
  readonly tokens: number[] = [];

  @DistributedJob()
  @Interval(200)
  async report(): JobResult<number> {
    const context = getJobContext();
    if (!context?.nodeId) throw new Error('no job context, or no nodeId in it');
    const { token } = context;
    this.tokens.push(token);
    return token;
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    DiscoveryModule.forRoot({
      redis: process.env.REDIS_URL,
      keyPrefix: process.env.SMOKE_PREFIX ?? 'smoke',
      serviceName: 'smoke',
      services: [{ name: 'smoke-api', version: '1.2.3' }],
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
    }),
  ],
  providers: [ReportJob],
})
export class AppModule {}
