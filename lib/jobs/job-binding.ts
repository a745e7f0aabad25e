/**
 * Which runner guards the jobs of which provider instance. The decorator wraps the method when the
 * class is declared, long before any module exists; the explorer binds each instance at bootstrap.
 * Several apps in one process each bind their own instances.
 */
export interface JobInvoker {
  invoke(
    jobName: string,
    instance: object,
    method: (...args: unknown[]) => unknown,
    args: unknown[],
  ): Promise<unknown>;
}

const bindings = new WeakMap<object, JobInvoker>();

export function bindJobs(instance: object, invoker: JobInvoker): void {
  bindings.set(instance, invoker);
}

export function invokerFor(instance: object): JobInvoker | undefined {
  return bindings.get(instance);
}
