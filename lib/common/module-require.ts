// A `require` that resolves from this package's own files, in both builds: the ESM build makes it
// from this module's URL; the CommonJS build (scripts/build.mjs) rewrites that expression to one
// made from `__filename` (the ESM one is a syntax error in CommonJS). The one place either build
// names its own location.
import { createRequire } from 'node:module';

/** Loads optional and peer packages (`cron`'s luxon, `@opentelemetry/api`) from here. */
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore TS1343 in the CommonJS build's type check; scripts/build.mjs replaces the expression
export const moduleRequire: NodeJS.Require = createRequire(import.meta.url);
