// Every use the benchmarks make of the library's internals, in one place: when an internal
// signature changes (the store's beat(), the key layout, the scripts, the private view), adapt
// this file and nothing else. Everything else in bench/ uses the public API (bench/lib/nodes.mjs:
// DiscoveryModule apps and node processes) or these functions.
import { createHash } from 'node:crypto';
import { NodePool } from 'nestjs-redis-discovery';
import { validateOptions } from '../../dist/options/validate-options.js';
import { decodeRecord, encodeRecord } from '../../dist/discovery/view/node-record.codec.js';
import { RegistryView } from '../../dist/discovery/view/registry-view.js';
import { recordTag, tagValue } from '../../dist/storage/registry-digest.js';
import { jobKey, registryKeys } from '../../dist/storage/registry-keys.js';
import { RedisRegistryStore } from '../../dist/storage/redis/redis-registry.store.js';
import { RedisJobClaimStore } from '../../dist/storage/redis/redis-job-claim.store.js';
import { loadLua } from '../../dist/storage/redis/lua-scripts.js';
import { LUA_SOURCES } from '../../dist/storage/redis/lua/lua-sources.generated.js';
import { heldTick } from '../../dist/jobs/held-tick.js';

/** The record a node writes to Redis (the library's canonical JSON). */
export function recordOf(node) {
  return encodeRecord(node);
}

/** Parses and validates a record the way a fresh lookup does (a string when rejected). */
export function decode(raw) {
  return decodeRecord(raw);
}

/**
 * The Redis store of namespace `prefix` on `client` (the client is not closed by the store),
 * without events unless `pubSub`.
 */
export function createStore(client, prefix, { pubSub = false } = {}) {
  return new RedisRegistryStore({
    client,
    ownsClient: false,
    keys: registryKeys(prefix, `${prefix}:events`),
    pubSubEnabled: pubSub,
  });
}

/**
 * One heartbeat of `node` ({ nodeId, instance, record, services: string[] }) with lease `ttl` ms,
 * as a node process sends it: one round trip. Resolves with { renewedOnly }: true when the beat
 * only renewed the lease (no write of the record, no event).
 */
export async function beat(store, node, ttl) {
  const { nodeId, instance, record, services } = node;
  // A node computes the tag once per change of its record, not per beat.
  if (node.taggedRecord !== record) [node.tag, node.taggedRecord] = [recordTag(record), record];
  const pool = (node.pool ??= JSON.parse(record).serviceName);
  const result = await store.beat({ nodeId, instance, record, tag: node.tag, pool, services, ttl });
  return { renewedOnly: result.outcome === 'unchanged' };
}

/** A sweep for expired nodes, as a node process sends it besides its beats. */
export function reap(store) {
  return store.reap();
}

/** The raw records of one service, straight from Redis (no parsing): the store call alone. */
export async function fetchServiceRecords(store, serviceName) {
  return (await store.fetchService(serviceName)).records;
}

/** Every live record of the namespace (what a view's startup snapshot reads). */
export async function snapshotRecords(store) {
  const records = [];
  const { serverTime } = await store.version();
  await store.snapshot(serverTime, (page) => records.push(...page));
  return records;
}

/** The in-process RegistryView behind a ServiceDiscovery (private in TypeScript). */
export function viewOf(discovery) {
  const view = discovery['sync']?.view;
  if (!view) throw new Error('bench/lib/library.mjs: cannot find the view of ServiceDiscovery');
  return view;
}

/** RegistryView.offering(name): the view's own lookup, without the service method around it. */
export function viewOffering(view, serviceName) {
  return view.offering(serviceName);
}

/**
 * Script SHA-1 -> script name as a constant (`beat-3.lua` -> BEAT_SCRIPT, `claim-2.lua` ->
 * CLAIM_SCRIPT), for every script of dist/storage/redis/lua/ with its includes spliced in, exactly
 * as the stores send it (read now, so call it after the build the nodes run).
 */
export async function scriptNames() {
  const names = new Map();
  for (const name of Object.keys(LUA_SOURCES)) {
    if (name.startsWith('includes/')) continue;
    const { source } = loadLua(name);
    const constant = `${name.replace(/-\d+$/, '').replaceAll('-', '_').toUpperCase()}_SCRIPT`;
    names.set(createHash('sha1').update(source).digest('hex'), constant);
  }
  return names;
}

/** The library's job-claim store on `client` (claim, confirm, giveBack: one script each). */
export function createClaimStore(client) {
  return new RedisJobClaimStore(client);
}

/**
 * A claim as a node that is not the job's owner sends it: the tick's record read first (one HMGET), the
 * claim script only when the record does not already refuse it. Resolves with the status.
 */
export async function nonOwnerClaim(store, request, sent = { n: 0 }) {
  sent.n += 1;
  const stored = await store.record(request.jobKey, request.tick);
  const { jobKey, tick, retention, tokenFloor = 0 } = request;
  if (heldTick(stored, { jobKey, tick, retention, tokenFloor, signer: undefined })) return 'taken';
  sent.n += 1;
  return (await store.claim(request)).status;
}

/** The key of job `name` of pool `pool` under `prefix`, as a claim request names it. */
export function jobKeyOf(prefix, pool, name) {
  return jobKey(prefix, pool, name);
}

/**
 * A real NodePool (`selfId` among `nodeIds`, one pool) over a RegistryView filled directly (no
 * Redis, no Nest). Returns { pool, nodeIds }: nodeIds as the view lists the pool's members.
 */
export function nodePoolOver(nodeIds, selfId, poolName = 'pool') {
  const view = new RegistryView();
  nodeIds.forEach((nodeId, i) => {
    const node = {
      nodeId,
      serviceName: poolName,
      address: `h${i}:80`,
      services: [{ name: poolName }],
      metadata: {},
    };
    view.upsert(node, i + 1, tagValue(recordTag(encodeRecord(node))));
  });
  // What NodePool reads of its second constructor argument (a RegistrySync): its view.
  const source = { view };
  const pool = new NodePool(
    validateOptions({ nodeId: selfId, serviceName: poolName, poolSettleTime: 0 }),
    source,
  );
  return { pool, nodeIds: view.pool(poolName).map((n) => n.nodeId) };
}
