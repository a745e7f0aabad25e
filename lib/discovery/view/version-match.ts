// Matches a node's service version against what a lookup asked for: an exact version or label, or
// a semver range, the parsed ranges cached so that repeated lookups do not parse them again.
import semver from 'semver';

/** A test of a node's service version against what a lookup asked for. */
export type VersionMatcher = (actual: string | undefined) => boolean;

const matchers = new Map<string, VersionMatcher>();
const MAX_CACHED_MATCHERS = 256;

/**
 * The matcher for a wanted version: an exact match, or, when `wanted` is a semver range
 * (`^1.2.0`, `>=2 <3`), a version inside it. Ranges are parsed once and cached: parsing is what a
 * range lookup would otherwise spend its time on.
 */
export function versionMatcher(wanted: string | undefined): VersionMatcher {
  if (wanted === undefined) return () => true;
  let matcher = matchers.get(wanted);
  if (!matcher) {
    matcher = build(wanted);
    if (matchers.size >= MAX_CACHED_MATCHERS) matchers.clear();
    matchers.set(wanted, matcher);
  }
  return matcher;
}

function build(wanted: string): VersionMatcher {
  const exact = (actual: string | undefined) => actual === wanted;
  if (semver.valid(wanted)) return exact; // an exact version
  let range: semver.Range;
  try {
    range = new semver.Range(wanted);
  } catch {
    return exact; // not a range: a plain label such as 'edge'
  }
  return (actual) =>
    actual === wanted ||
    (actual !== undefined && semver.valid(actual) !== null && range.test(actual));
}
