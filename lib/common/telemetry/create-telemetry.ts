// Picks the meter from the `meterProvider` option: the one given, the app's global provider when
// `@opentelemetry/api` is installed, or none (`false`, or no API): then every metric is a no-op.
import { moduleRequire } from '../module-require.js';
import { Telemetry } from './telemetry.js';
import { globalMeterProvider } from './global-meter-provider.js';
import type { MeterProviderLike } from './meter.interface.js';
import { METER_NAME } from './metric-names.js';

/** The package's version, as the meter's (the instrumentation scope's) version. */
const VERSION = packageVersion();

/**
 * The package.json above this file: two levels up from lib/common/ and dist/common/, three from
 * dist/cjs/common/ (`moduleRequire` resolves from common/).
 */
function packageVersion(): string | undefined {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = moduleRequire(path) as { name?: string; version?: string };
      if (manifest.name === 'nestjs-redis-discovery') return manifest.version;
    } catch {
      // not there: try the next level
    }
  }
  return undefined;
}

export function createTelemetry(provider: MeterProviderLike | false | undefined): Telemetry {
  if (provider === false) return new Telemetry(undefined);
  const meter = (provider ?? globalMeterProvider())?.getMeter(METER_NAME, VERSION);
  return new Telemetry(meter);
}
