// The app's global OpenTelemetry MeterProvider, if `@opentelemetry/api` is installed: loaded
// lazily so that the package stays optional (without it, or without an SDK, metrics are no-ops).
import { moduleRequire } from '../module-require.js';
import type { MeterProviderLike } from './meter.interface.js';

export function globalMeterProvider(): MeterProviderLike | undefined {
  try {
    const api = moduleRequire('@opentelemetry/api') as {
      metrics?: { getMeterProvider(): MeterProviderLike };
    };
    return api.metrics?.getMeterProvider();
  } catch {
    return undefined; // not installed: no metrics
  }
}
