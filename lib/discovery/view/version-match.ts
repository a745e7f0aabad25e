// Matches a node's service version against what a lookup asked for: a semver version or range (a
// string that is neither is refused, naming it), or an exact label when the lookup says so; the
// parsed ranges cached so that repeated lookups do not parse them again.
import semver from 'semver';
import { InvalidArgumentError } from '../../common/errors.js';

/** A test of a node's service version against what a lookup asked for. */
export type VersionMatcher = (actual: string | undefined) => boolean;

const matchers = new Map<string, VersionMatcher>();
const MAX_CACHED_MATCHERS = 256;

/**
 * The matcher for a wanted version: the same version string when `wanted` is a semver version
 * (`1.2.3`), a version inside it when it is a semver range (`^1.2.0`, `>=2 <3`), or, with
 * `exactVersion`, the same string whatever it is (labels such as `edge`). Anything else throws
 * `InvalidArgumentError` naming it: a typo must not read as "no node offers it". Ranges are parsed
 * once and cached: parsing is what a range lookup would otherwise spend its time on.
 */
export function versionMatcher(wanted: string | undefined, exactVersion = false): VersionMatcher {
  if (wanted === undefined) return () => true;
  if (exactVersion) return (actual) => actual === wanted;
  let matcher = matchers.get(wanted);
  if (!matcher) {
    matcher = build(wanted);
    if (matchers.size >= MAX_CACHED_MATCHERS) matchers.clear();
    matchers.set(wanted, matcher);
  }
  return matcher;
}

function build(wanted: string): VersionMatcher {
  if (semver.valid(wanted)) return (actual) => actual === wanted; // an exact version
  let range: semver.Range;
  try {
    range = new semver.Range(wanted);
  } catch {
    throw new InvalidArgumentError(
      `version ${JSON.stringify(wanted)} is not a semver version or range (e.g. 1.2.3, ^1.2.0, ` +
        '>=2 <3); to match a version label that is not semver exactly, pass { exactVersion: true }',
    );
  }
  return (actual) =>
    actual === wanted ||
    (actual !== undefined && semver.valid(actual) !== null && range.test(actual));
}
