// The shape rules for every name that ends up in a Redis key, a channel or a record, in one place
// so options, public methods and records read back from Redis are held to the same rules.

/**
 * A rule returns `undefined` when the value is fine, else the reason (completing "<label> ...").
 */
export type Rule = (value: unknown) => string | undefined;

// No Redis glob characters (* ? [ ]), no hash-tag braces, no whitespace or control characters:
// names are spliced into keys and channels and must never change their meaning.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._\-@/]*$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._\-:]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+\-_]*$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const PRINTABLE = /^[^\s\u0000-\u001f\u007f]+$/;

export const MAX_NAME_LENGTH = 128;
export const MAX_METADATA_VALUE_LENGTH = 4096;
export const MAX_METADATA_ENTRIES = 64;

function text(pattern: RegExp, max: number, allowed: string): Rule {
  return (value) => {
    if (typeof value !== 'string') return `must be a string (got ${describe(value)})`;
    if (value.length === 0) return 'must not be empty';
    if (value.length > max) return `must be at most ${max} characters (got ${value.length})`;
    if (!pattern.test(value))
      return `may only contain ${allowed} (got ${JSON.stringify(clip(value))})`;
    return undefined;
  };
}

export const nameRule = text(
  NAME,
  MAX_NAME_LENGTH,
  'letters, digits and . _ - @ /, starting with a letter or digit',
);
export const prefixRule = text(
  PREFIX,
  64,
  'letters, digits and . _ - :, starting with a letter or digit',
);
export const versionRule = text(
  VERSION,
  64,
  'letters, digits and . + - _, starting with a letter or digit',
);
export const addressRule = text(PRINTABLE, 255, 'printable characters without spaces');

export const metadataRule: Rule = (value) => {
  if (!isPlainObject(value)) return `must be an object of strings (got ${describe(value)})`;
  const entries = Object.entries(value);
  if (entries.length > MAX_METADATA_ENTRIES)
    return `must have at most ${MAX_METADATA_ENTRIES} entries`;
  for (const [key, entry] of entries) {
    const keyProblem = text(PRINTABLE, MAX_NAME_LENGTH, 'printable characters without spaces')(key);
    if (keyProblem) return `key ${JSON.stringify(clip(key))} ${keyProblem}`;
    if (typeof entry !== 'string')
      return `value of "${key}" must be a string (got ${describe(entry)})`;
    if (entry.length > MAX_METADATA_VALUE_LENGTH)
      return `value of "${key}" must be at most ${MAX_METADATA_VALUE_LENGTH} characters (got ${entry.length})`;
  }
  return undefined;
};

export const servicesRule: Rule = (value) => {
  if (!Array.isArray(value))
    return `must be an array of { name, version? } (got ${describe(value)})`;
  if (value.length > MAX_METADATA_ENTRIES)
    return `must have at most ${MAX_METADATA_ENTRIES} entries`;
  const seen = new Set<string>();
  for (const [index, service] of value.entries()) {
    if (!isPlainObject(service)) return `[${index}] must be an object { name, version? }`;
    const extra = Object.keys(service).filter((key) => key !== 'name' && key !== 'version');
    if (extra.length > 0) return `[${index}] has unknown key "${extra[0]}"`;
    const nameProblem = nameRule(service.name);
    if (nameProblem) return `[${index}].name ${nameProblem}`;
    if (service.version !== undefined) {
      const versionProblem = versionRule(service.version);
      if (versionProblem) return `[${index}].version ${versionProblem}`;
    }
    const identity = [service.name, service.version].filter((part) => part !== undefined).join('@');
    if (seen.has(identity)) return `[${index}] repeats service ${identity}`;
    seen.add(identity);
  }
  return undefined;
};

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short, safe description of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(clip(value));
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return isPlainObject(value) ? 'an object' : `an instance of ${name || 'an unnamed class'}`;
  }
  return `${typeof value} ${String(value)}`;
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}...` : value;
}
