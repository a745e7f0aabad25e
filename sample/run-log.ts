import { Inject, Injectable, Logger } from '@nestjs/common';
import { SAMPLE_CONFIG, type SampleConfig } from './config.js';

/** One line per job run: JSON on stdout with `SAMPLE_LOG=json` (the demo parses it), else a log line. */
export interface RunLine {
  event: 'run';
  node: string;
  job: string;
  /** The tick (Redis server time, ms) the run stands for. */
  tick: number;
  /** Fencing token of the run. */
  token: number;
  /** Local wall clock when the run started, ms. */
  at: number;
}

@Injectable()
export class RunLog {
  private readonly logger = new Logger('Jobs');

  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {}

  run(job: string, tick: Date, token: number): void {
    const line: RunLine = {
      event: 'run',
      node: this.config.nodeId,
      job,
      tick: tick.getTime(),
      token,
      at: Date.now(),
    };
    if (this.config.logJson) {
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } else {
      this.logger.log(
        `${job.padEnd(7)} tick ${tick.toISOString().slice(11, 23)} token ${token} ran on ${line.node}`,
      );
    }
  }
}
