import semver from 'semver';

/**
 * Whether a node's service version satisfies a lookup: an exact match, or, when the wanted version
 * is a semver range (`^1.2.0`, `>=2 <3`), a version inside it.
 */
export function versionMatches(actual: string | undefined, wanted: string | undefined): boolean {
  if (wanted === undefined) return true;
  if (actual === undefined) return false;
  if (actual === wanted) return true;
  if (semver.valid(wanted)) return false; // an exact version that differs
  const range = semver.validRange(wanted);
  return range !== null && semver.valid(actual) !== null && semver.satisfies(actual, range);
}
