import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { DistributedJob, getJobContext } from 'nestjs-redis-discovery';
import { RunLog } from './run-log.js';

/**
 * Three jobs shared by every node of the pool (`SERVICE_NAME`): each tick runs on exactly one
 * node, the one the hash ring gives the job to, or a peer when that node is gone.
 */
@Injectable()
export class SampleJobs {
  constructor(private readonly log: RunLog) {}

  @Cron('* * * * * *')
  @DistributedJob('report')
  async report(): Promise<void> {
    await this.work(50);
  }

  @Cron('*/2 * * * * *')
  @DistributedJob('cleanup')
  async cleanup(): Promise<void> {
    await this.work(200);
  }

  @Cron('*/5 * * * * *')
  @DistributedJob('digest')
  async digest(): Promise<void> {
    await this.work(500);
  }

  /** Logs the run, then stands in for real work; stops early if the run is aborted. */
  private async work(ms: number): Promise<void> {
    const context = getJobContext();
    if (!context) return; // called outside a run: nothing to do
    this.log.run(context.jobName, context.tick, context.token);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      context.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {
        once: true,
      });
    });
  }
}
