// Shares the parts that many node records repeat (a service list, the metadata, an empty object),
// checked once and frozen: replicas of one service usually have the same ones, so a view of many
// nodes holds each once.
import { metadataRule, servicesRule } from '../../common/field-rules.js';
import type { ServiceDescriptor } from '../../options/discovery-options.interface.js';

/** Past this many distinct values a table starts over (a registry of all-different nodes). */
const MAX_DISTINCT = 20_000;
const EMPTY_METADATA: Record<string, string> = Object.freeze({});

export class RecordInterner {
  private readonly serviceLists = new Map<string, readonly ServiceDescriptor[]>();
  private readonly metadataObjects = new Map<string, Readonly<Record<string, string>>>();

  /** The shared, frozen copy of a valid service list; undefined when it is not valid. */
  services(value: unknown): ServiceDescriptor[] | undefined {
    if (!Array.isArray(value)) return undefined;
    // The exact content (keys, types, order): a list only matches one checked before.
    const key = JSON.stringify(value);
    const known = this.serviceLists.get(key);
    if (known) return known as ServiceDescriptor[];
    if (servicesRule(value)) return undefined;
    const list = Object.freeze((value as ServiceDescriptor[]).map((s) => Object.freeze({ ...s })));
    return remember(this.serviceLists, key, list) as ServiceDescriptor[];
  }

  /** The shared, frozen copy of valid metadata; undefined when it is not valid. */
  metadata(value: unknown): Record<string, string> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const key = JSON.stringify(value);
    if (key === '{}') return metadataRule(value) ? undefined : EMPTY_METADATA;
    const known = this.metadataObjects.get(key);
    if (known) return known;
    if (metadataRule(value)) return undefined;
    return remember(
      this.metadataObjects,
      key,
      Object.freeze({ ...(value as Record<string, string>) }),
    );
  }
}

function remember<T>(table: Map<string, T>, key: string, value: T): T {
  if (table.size >= MAX_DISTINCT) table.clear();
  table.set(key, value);
  return value;
}
