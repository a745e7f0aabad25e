// Picks the meter from the `meterProvider` option: the one given, the app's global provider when
// `@opentelemetry/api` is installed, or none (`false`, or no API): then every metric is a no-op.
import { createRequire } from 'node:module';
import { Telemetry } from './telemetry.js';
import { globalMeterProvider } from './global-meter-provider.js';
import type { MeterProviderLike } from './meter.interface.js';
import { METER_NAME } from './metric-names.js';

/** The package's version, as the meter's (the instrumentation scope's) version. */
const VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string })
  .version;

export function createTelemetry(provider: MeterProviderLike | false | undefined): Telemetry {
  if (provider === false) return new Telemetry(undefined);
  const meter = (provider ?? globalMeterProvider())?.getMeter(METER_NAME, VERSION);
  return new Telemetry(meter);
}
