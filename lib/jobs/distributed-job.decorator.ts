// `@DistributedJob()`: checks the job's name and options when the class is declared, and wraps the
// method so that every call goes through the runner the module bound to the instance.
import { DiscoveryError, InvalidArgumentError } from '../common/errors.js';
import { nameRule } from '../common/field-rules.js';
import { DISTRIBUTED_JOB_METADATA } from '../discovery.constants.js';
import type { DistributedJobOptions } from './distributed-job.interface.js';
import { invokerFor } from './job-binding.js';
import type { JobOptions } from './job-definition.js';
import { checkCron, cronOf } from './tick-schedule.js';

const OVERLAP = ['allow', 'skip', 'bufferOne', 'cancelOther'];
const MAX_MS = 24 * 60 * 60 * 1000;

/** What is wrong with the decorator's (or `DistributedJobs.add()`'s) options, or undefined. */
export function jobOptionsProblem(options: DistributedJobOptions): string | undefined {
  const ms = (value: unknown, min: number) =>
    value === undefined ||
    (Number.isInteger(value) && (value as number) >= min && (value as number) <= MAX_MS);
  if (!ms(options.period, 1)) return 'period must be a positive integer of ms';
  if (!ms(options.startingDeadline, 1))
    return `startingDeadline must be a whole number of ms from 1 to ${MAX_MS}`;
  if (!ms(options.catchupWindow, 0))
    return `catchupWindow must be a whole number of ms from 0 to ${MAX_MS}`;
  if (options.overlap !== undefined && !OVERLAP.includes(options.overlap))
    return `overlap must be one of ${OVERLAP.map((p) => `'${p}'`).join(', ')}`;
  if (options.catchup !== undefined && options.catchup !== 'one' && options.catchup !== 'all')
    return "catchup must be 'one' or 'all'";
  if (options.paused !== undefined && typeof options.paused !== 'boolean')
    return 'paused must be true or false';
  if (!ms(options.jitter, 0)) return `jitter must be a whole number of ms from 0 to ${MAX_MS}`;
  if (!ms(options.pauseAfterFailures, 0) || (options.pauseAfterFailures ?? 0) > 1000)
    return 'pauseAfterFailures must be a whole number from 0 to 1000';
  return retryProblem(options.retry);
}

function retryProblem(retry: DistributedJobOptions['retry']): string | undefined {
  if (retry === undefined) return undefined;
  if (typeof retry !== 'object' || retry === null)
    return 'retry must be { attempts, backoff?, factor? }';
  const { attempts, backoff, factor } = retry;
  const whole = (value: unknown, min: number, max: number) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
  if (!whole(attempts, 1, 10)) return 'retry.attempts must be a whole number from 1 to 10';
  if (backoff !== undefined && !whole(backoff, 0, MAX_MS))
    return `retry.backoff must be a whole number of ms from 0 to ${MAX_MS}`;
  if (factor !== undefined && !(typeof factor === 'number' && factor >= 1 && factor <= 10))
    return 'retry.factor must be a number from 1 to 10';
  return undefined;
}

/** What the decorator records on the method for the explorer. */
export interface DistributedJobMetadata {
  name: string;
  period: number | undefined;
  options: JobOptions;
  /** The undecorated method: the schedule metadata is read from it as well as from the wrapper. */
  original: (...args: unknown[]) => unknown;
}

/**
 * Makes a method a distributed job: each tick runs on exactly one node of the pool. Stack it with
 * `@Cron`, `@Interval` or `@Timeout` in either order; direct calls are guarded the same way. The
 * method then returns a promise of its result, or of undefined when this node did not run the tick.
 */
export function DistributedJob(nameOrOptions?: string | DistributedJobOptions): MethodDecorator {
  const options: DistributedJobOptions =
    typeof nameOrOptions === 'string' ? { name: nameOrOptions } : { ...(nameOrOptions ?? {}) };
  return (target, propertyKey, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    const className = (target as { constructor: { name: string } }).constructor.name;
    const name = options.name ?? `${className}.${String(propertyKey)}`;
    if (typeof original !== 'function') {
      throw new InvalidArgumentError(
        `@DistributedJob() on ${name}: only methods can be distributed jobs`,
      );
    }
    const problem = nameRule(name);
    if (problem) throw new InvalidArgumentError(`@DistributedJob() name ${problem}`);
    const invalid = jobOptionsProblem(options);
    if (invalid) throw new InvalidArgumentError(`@DistributedJob() ${name}: ${invalid}`);
    // A @Cron below this decorator is already on the method: check it now (above: at bootstrap).
    const cron = cronOf(original);
    if (cron) checkCron(name, cron, options.period);

    const wrapped = function (this: object, ...args: unknown[]): Promise<unknown> {
      const invoker = invokerFor(this);
      if (!invoker) {
        return Promise.reject(
          new DiscoveryError(
            `Distributed job ${name} ran before DiscoveryModule bound it (is the module imported?)`,
          ),
        );
      }
      return invoker.invoke(name, this, original, args);
    };
    Object.defineProperty(wrapped, 'name', { value: original.name });
    // Decorators applied before this one (listed below it) put their metadata on the original.
    for (const key of Reflect.getMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
    }
    const metadata: DistributedJobMetadata = {
      name,
      period: options.period,
      options: jobOptionsOf(options),
      original,
    };
    Reflect.defineMetadata(DISTRIBUTED_JOB_METADATA, metadata, wrapped);
    descriptor.value = wrapped;
    return descriptor;
  };
}

/** The options a job definition reads, from the decorator's (or `add()`'s). */
export function jobOptionsOf(options: DistributedJobOptions): JobOptions {
  const { startingDeadline, overlap, catchupWindow, catchup, paused } = options;
  const { retry, pauseAfterFailures, jitter } = options;
  return {
    startingDeadline,
    overlap,
    catchupWindow,
    catchup,
    paused,
    retry: retry && { ...retry },
    pauseAfterFailures,
    jitter,
  };
}
