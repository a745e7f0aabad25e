// Which runner guards the jobs of which provider instance: the decorator wraps methods when classes
// are declared, before any module exists; each app's explorer binds its own instances at init.

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
