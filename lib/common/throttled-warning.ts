// A rate-limited warning for problems that can repeat without end (Redis connection errors, bad
// records or events, failed reads of the cluster page), so none of them can flood the log.
import type { LoggerService } from '@nestjs/common';

/**
 * Logs a recurring problem at most once per `intervalMs`, with how many times it happened since the
 * last line, so a flood of bad input cannot flood the log too.
 */
export class ThrottledWarning {
  private suppressed = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly logger: LoggerService,
    private readonly intervalMs = 10_000,
  ) {}

  warn(message: string, now = Date.now()): void {
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last report)` : '';
    this.logger.warn(`${message}${more}`);
    this.lastAt = now;
    this.suppressed = 0;
  }
}
