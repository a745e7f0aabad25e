import { afterEach, describe, expect, it } from '@jest/globals';
import type { DiscoveryModuleOptions } from 'nestjs-redis-discovery';
import { REGISTRY_STORE } from '../../lib/discovery.constants.js';
import { RegistrySync } from '../../lib/discovery/view/registry-sync.service.js';
import { recordTag, tagValue, withTag } from '../../lib/storage/registry-digest.js';
import type { RegistryStore } from '../../lib/storage/registry-store.interface.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { waitFor } from '../support/redis-harness.js';

let namespaces = 0;

/**
 * The sum of each digest field's members' tags, from a snapshot of the store: what every `d:` and
 * `p:` field (and `digest`) must hold, each service counted once per node.
 */
async function expectedDigests(store: RegistryStore): Promise<Map<string, number>> {
  const sums = new Map<string, number>([['digest', 0]]);
  const now = (await store.version()).serverTime;
  await store.snapshot(now, (records, tags) => {
    records.forEach((raw, i) => {
      const node = JSON.parse(raw) as { serviceName: string; services: Array<{ name: string }> };
      expect(tags[i]).toBe(recordTag(raw));
      const fields = new Set([
        'digest',
        `p:${node.serviceName}`,
        ...node.services.map((s) => `d:${s.name}`),
      ]);
      for (const field of fields) {
        sums.set(field, withTag(sums.get(field) ?? 0, tagValue(tags[i]), 1));
      }
    });
  });
  return sums;
}

/** Every digest field (and a few of names that are gone) against the sum of its members' tags. */
async function digestsHold(store: RegistryStore, gone: string[] = []): Promise<void> {
  const expected = await expectedDigests(store);
  const fields = [...expected.keys()].filter((f) => f !== 'digest');
  const state = await store.version([...fields, ...gone]);
  expect({ digest: state.digest, ...state.scopes }).toEqual({
    ...Object.fromEntries(expected),
    ...Object.fromEntries(gone.map((field) => [field, 0])),
  });
}

/**
 * Digest fields stay equal to the sum of their members' tags through registrations, updates and
 * removals, on both stores: a node that offers one service at two versions (a migration) counts
 * it once everywhere, and a partial view of that service never has to resync for it.
 */
export function digestContract(base: () => DiscoveryModuleOptions): void {
  const nodes: TestNode[] = [];
  let keyPrefix = '';

  async function node(options: DiscoveryModuleOptions): Promise<TestNode> {
    const started = await startNode({
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
      ...base(),
      keyPrefix,
      ...options,
    });
    nodes.push(started);
    return started;
  }

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });

  describe('digest fields', () => {
    it('equal the sum of their members’ tags after registrations, updates and removals', async () => {
      keyPrefix = `digests-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', services: [{ name: 'api' }, { name: 'web' }] });
      const store = a.app.get<RegistryStore>(REGISTRY_STORE);
      const b = await node({ nodeId: 'b', serviceName: 'backend', services: [{ name: 'api' }] });
      await digestsHold(store);
      await b.discovery.updateServices([{ name: 'db' }]);
      await a.discovery.updateMetadata({ zone: 'eu-1' });
      await digestsHold(store);
      await b.close();
      await digestsHold(store, ['d:db', 'p:backend']);
    });

    it('count a service offered at two versions once: 100 updates and removals, no resync of a partial view', async () => {
      keyPrefix = `digests-${process.pid}-${namespaces++}`;
      const lean = await node({ nodeId: 'lean', serviceName: 'web', viewScope: 'used' });
      const store = lean.app.get<RegistryStore>(REGISTRY_STORE);
      await lean.discovery.findNodesByService('api'); // the partial view now keeps `api`
      const view = lean.app.get(RegistrySync).view;
      const resyncsBefore = lean.discovery.stats.resyncs;
      const twoVersions = [
        { name: 'api', version: '1.0.0' },
        { name: 'api', version: '2.0.0' },
      ];
      for (let round = 0; round < 100; round++) {
        const migrating = await node({ nodeId: `m-${round % 3}`, services: twoVersions });
        await migrating.discovery.updateMetadata({ round: String(round) });
        await waitFor(
          () => view.get(migrating.discovery.self.nodeId)?.metadata.round === `${round}`,
        );
        await migrating.close();
        nodes.splice(nodes.indexOf(migrating), 1);
        await waitFor(() => view.get(`m-${round % 3}`) === undefined);
      }
      await digestsHold(store, ['d:api', 'p:default']);
      // Beats of the lean node compare its digests with Redis's: nothing to repair.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(lean.discovery.stats.resyncs).toBe(resyncsBefore);
      expect(lean.discovery.stats.divergences).toBe(0);
    }, 60_000);
  });
}
