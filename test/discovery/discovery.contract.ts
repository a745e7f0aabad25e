import { afterEach, describe, expect, it } from '@jest/globals';
import {
  DuplicateNodeIdError,
  InvalidArgumentError,
  type DiscoveryEvent,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { REGISTRY_STORE } from '../../lib/discovery.constants.js';
import { RegistrySync } from '../../lib/discovery/view/registry-sync.service.js';
import type { RegistryStore } from '../../lib/storage/registry-store.interface.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { waitFor } from '../support/redis-harness.js';

let namespaces = 0;

/**
 * The behaviour every registry must show, run against Redis and against the in-memory registry.
 * `base()` gives the options that select the registry; each test gets its own namespace.
 */
export function discoveryContract(base: () => DiscoveryModuleOptions): void {
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

  function record(target: TestNode): DiscoveryEvent[] {
    const events: DiscoveryEvent[] = [];
    void target.discovery.subscribeToEvents((event) => {
      events.push(event);
    });
    return events;
  }

  const ids = (list: Array<{ nodeId: string }>) => list.map((n) => n.nodeId).sort();

  beforeEachNamespace();
  function beforeEachNamespace() {
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((n) => n.close()));
    });
  }

  describe('registration and lookups', () => {
    it('lists every registered node with its address, services and metadata', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', address: '10.0.0.1:3000', metadata: { zone: 'eu-1' } });
      await node({ nodeId: 'b', services: [{ name: 'api', version: '1.0.0' }] });

      await waitFor(async () => (await a.discovery.getActiveNodes()).length === 2);
      const listed = await a.discovery.getActiveNodes();
      expect(ids(listed)).toEqual(['a', 'b']);
      expect(listed.find((n) => n.nodeId === 'a')).toEqual({
        nodeId: 'a',
        serviceName: 'default',
        address: '10.0.0.1:3000',
        services: [{ name: 'default' }],
        metadata: { zone: 'eu-1' },
      });
      expect(await a.discovery.isNodeActive('b')).toBe(true);
      expect(await a.discovery.isNodeActive('nobody')).toBe(false);
    });

    it('finds nodes by service name, exact version and semver range', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', services: [{ name: 'api', version: '1.2.0' }] });
      await node({ nodeId: 'b', services: [{ name: 'api', version: '2.0.1' }, { name: 'jobs' }] });
      await node({ nodeId: 'c', services: [{ name: 'web', version: 'edge' }] });
      await waitFor(async () => (await a.discovery.getActiveNodes()).length === 3);

      const find = async (name: string, version?: string, fresh = false, exactVersion = false) =>
        ids(await a.discovery.findNodesByService(name, version, { fresh, exactVersion }));
      for (const fresh of [false, true]) {
        expect(await find('api', undefined, fresh)).toEqual(['a', 'b']);
        expect(await find('api', '1.2.0', fresh)).toEqual(['a']);
        expect(await find('api', '^1.0.0', fresh)).toEqual(['a']);
        expect(await find('api', '>=2 <3', fresh)).toEqual(['b']);
        expect(await find('api', '3.0.0', fresh)).toEqual([]);
        expect(await find('jobs', undefined, fresh)).toEqual(['b']);
        expect(await find('jobs', '1.0.0', fresh)).toEqual([]);
        expect(await find('web', 'edge', fresh, true)).toEqual(['c']);
        expect(await find('api', '1.2.0', fresh, true)).toEqual(['a']);
        expect(await find('api', '^1.0.0', fresh, true)).toEqual([]);
        expect(await find('nothing', undefined, fresh)).toEqual([]);
      }
    });

    it('refuses a version that is neither semver nor a range, naming it, unless exactVersion', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', services: [{ name: 'api', version: '2.0.0' }] });
      for (const version of ['not-a-range', '=>2.0.0', 'edge', '1.2.3.4']) {
        for (const fresh of [false, true]) {
          const lookup = a.discovery.findNodesByService('api', version, { fresh });
          await expect(lookup).rejects.toThrow(InvalidArgumentError);
          await expect(lookup).rejects.toThrow(
            `version ${JSON.stringify(version)} is not a semver version or range (e.g. 1.2.3, ^1.2.0, >=2 <3); to match a version label that is not semver exactly, pass { exactVersion: true }`,
          );
        }
        expect(
          await a.discovery.findNodesByService('api', version, { exactVersion: true }),
        ).toEqual([]);
      }
    });

    it('rejects a malformed service name with a typed error', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      await expect(a.discovery.findNodesByService('api*')).rejects.toThrow(InvalidArgumentError);
      await expect(a.discovery.findNodesByService('x'.repeat(10_000))).rejects.toThrow(
        InvalidArgumentError,
      );
    });

    it('refuses a second live process with the same node id', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      await node({ nodeId: 'twin' });
      await expect(node({ nodeId: 'twin' })).rejects.toThrow(DuplicateNodeIdError);
    });
  });

  describe('updates', () => {
    it('shows a node its own update at once and a peer within 100 ms', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      const b = await node({ nodeId: 'b' });
      await waitFor(async () => await b.discovery.isNodeActive('a'));
      const seen = record(b);

      await a.discovery.updateMetadata({ build: '42' });
      expect((await a.discovery.getActiveNodes()).find((n) => n.nodeId === 'a')?.metadata).toEqual({
        build: '42',
      });
      await waitFor(
        () => seen.some((e) => e.type === 'NODE_UPDATED' && e.metadata.build === '42'),
        {
          timeout: 100,
          message: 'peer did not see the update within 100 ms',
        },
      );
      expect((await b.discovery.getActiveNodes()).find((n) => n.nodeId === 'a')?.metadata).toEqual({
        build: '42',
      });
    });

    it('applies concurrent updates one after another, the last one winning', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      const b = await node({ nodeId: 'b' });
      await waitFor(async () => await b.discovery.isNodeActive('a'));
      const seen = record(b);

      await Promise.all([
        a.discovery.updateMetadata({ step: '1' }),
        a.discovery.updateServices([{ name: 'api', version: '1.0.0' }]),
        a.discovery.updateMetadata({ step: '3' }),
        a.discovery.updateAddress('10.1.1.1:80'),
      ]);
      const expected = {
        address: '10.1.1.1:80',
        services: [{ name: 'api', version: '1.0.0' }],
        metadata: { step: '3' },
      };
      expect(
        (await a.discovery.getActiveNodes({ fresh: true })).find((n) => n.nodeId === 'a'),
      ).toMatchObject(expected);
      const updatesOfA = () => seen.filter((e) => e.type === 'NODE_UPDATED' && e.nodeId === 'a');
      await waitFor(() => updatesOfA().length === 4);
      expect(updatesOfA().map((e) => e.metadata.step)).toEqual(['1', '1', '3', '3']);
      expect((await b.discovery.findNodesByService('api', '1.0.0')).map((n) => n.address)).toEqual([
        '10.1.1.1:80',
      ]);
      expect(await b.discovery.findNodesByService('default')).toEqual([
        expect.objectContaining({ nodeId: 'b' }),
      ]);
    });

    it('re-registers with a new address that peers then find', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', address: 'old-host:1' });
      const b = await node({ nodeId: 'b' });
      await a.discovery.updateAddress('new-host:2');
      await waitFor(async () =>
        (await b.discovery.findNodesByService('default')).some((n) => n.address === 'new-host:2'),
      );
    });

    it('ignores updates after shutdown', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      const b = await node({ nodeId: 'b' });
      await a.close();
      await a.discovery.updateMetadata({ late: 'yes' });
      expect(await b.discovery.getActiveNodes({ fresh: true })).toEqual([
        expect.objectContaining({ nodeId: 'b' }),
      ]);
    });
  });

  describe('events', () => {
    it('announces registration and shutdown to subscribers', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      const seen = record(a);
      const b = await node({ nodeId: 'b', metadata: { role: 'worker' } });
      await waitFor(() => seen.some((e) => e.type === 'NODE_REGISTERED' && e.nodeId === 'b'));
      await b.close();
      await waitFor(() => seen.some((e) => e.type === 'NODE_DEREGISTERED'));
      const removal = seen.find((e) => e.type === 'NODE_DEREGISTERED')!;
      expect(removal).toMatchObject({
        nodeId: 'b',
        reason: 'shutdown',
        metadata: { role: 'worker' },
      });
      expect(typeof removal.timestamp).toBe('number');
      expect(await a.discovery.isNodeActive('b')).toBe(false);
    });

    it('stops delivering after unsubscribe, and can skip own events', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a', ignoreOwnEvents: true });
      const b = await node({ nodeId: 'b' });
      const own: DiscoveryEvent[] = [];
      await a.discovery.subscribeToEvents((e) => void own.push(e));
      const later: DiscoveryEvent[] = [];
      const unsubscribe = await b.discovery.subscribeToEvents((e) => void later.push(e));
      await unsubscribe();
      await a.discovery.updateMetadata({ x: '1' });
      await b.discovery.updateMetadata({ y: '1' });
      await waitFor(() => own.some((e) => e.nodeId === 'b' && e.metadata.y === '1'));
      expect(own.filter((e) => e.nodeId === 'a')).toEqual([]);
      expect(later).toEqual([]);
    });

    it('survives a throwing subscriber and counts it', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      // Own events skipped: the two errors counted are the two handlers failing on b's event.
      const a = await node({ nodeId: 'a', ignoreOwnEvents: true });
      await a.discovery.subscribeToEvents(() => {
        throw new Error('handler bug');
      });
      await a.discovery.subscribeToEvents(async () => {
        throw new Error('async handler bug');
      });
      await node({ nodeId: 'b' });
      await waitFor(() => a.discovery.stats.handlerErrors >= 2);
      expect(await a.discovery.isNodeActive('b')).toBe(true);
    });
  });

  describe('client mode', () => {
    it('looks up and listens without registering itself', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const client = await node({ nodeId: 'watcher', clientMode: true });
      const seen = record(client);
      const a = await node({ nodeId: 'a' });
      await waitFor(() => seen.some((e) => e.nodeId === 'a'));
      expect(ids(await a.discovery.getActiveNodes({ fresh: true }))).toEqual(['a']);
      expect(ids(await client.discovery.getActiveNodes())).toEqual(['a']);
    });
  });

  describe('digest', () => {
    it("keeps every view's digest equal to the registry's through registrations, updates and leaves", async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const a = await node({ nodeId: 'a' });
      const b = await node({ nodeId: 'b', services: [{ name: 'api', version: '1.0.0' }] });
      const client = await node({ nodeId: 'watcher', clientMode: true });
      await b.discovery.updateMetadata({ zone: 'eu-2' });
      await a.discovery.updateServices([{ name: 'api', version: '2.0.0' }]);
      await b.close(); // leaves
      const everyone = [a, client];
      const matches = async () => {
        const registry = await a.app.get<RegistryStore>(REGISTRY_STORE).version();
        return everyone.every((n) => {
          const view = n.app.get(RegistrySync).view;
          return view.version === registry.version && view.digests.current()[0] === registry.digest;
        });
      };
      await waitFor(async () => (await a.discovery.getActiveNodes()).length === 1, {
        timeout: 3000,
      });
      await waitFor(matches, { timeout: 2000, message: 'a view digest differs from the registry' });
      const registry = await a.app.get<RegistryStore>(REGISTRY_STORE).version();
      expect(registry.digest).toBeGreaterThan(0);
      expect(a.discovery.stats.divergences + client.discovery.stats.divergences).toBe(0);
    });
  });

  describe("viewScope: 'used'", () => {
    it('keeps only its pool and the services it looked up, kept current by events', async () => {
      keyPrefix = `contract-${process.pid}-${namespaces++}`;
      const lean = await node({ nodeId: 'lean', serviceName: 'web', viewScope: 'used' });
      await node({ nodeId: 'peer', serviceName: 'web' });
      await node({ nodeId: 'api-1', serviceName: 'backend', services: [{ name: 'api' }] });
      await node({ nodeId: 'db-1', serviceName: 'backend', services: [{ name: 'db' }] });
      const view = lean.app.get(RegistrySync).view;
      // Its own pool (for the ring) from the start; nothing of the services it never used.
      await waitFor(() => ids(lean.discovery.poolNodes('web')).join() === 'lean,peer');
      expect(view.get('api-1')).toBeUndefined();
      // The first lookup of a service reads it; from then on events keep it.
      expect(ids(await lean.discovery.findNodesByService('api'))).toEqual(['api-1']);
      expect(view.get('db-1')).toBeUndefined();
      await node({ nodeId: 'api-2', serviceName: 'backend', services: [{ name: 'api' }] });
      await waitFor(() => view.get('api-2') !== undefined);
      expect(ids(await lean.discovery.findNodesByService('api'))).toEqual(['api-1', 'api-2']);
      expect(view.size).toBe(4); // lean, peer, api-1, api-2: not db-1
      // What it does not hold, it reads.
      expect(ids(await lean.discovery.getActiveNodes())).toEqual([
        'api-1',
        'api-2',
        'db-1',
        'lean',
        'peer',
      ]);
      expect(await lean.discovery.isNodeActive('db-1')).toBe(true);
      expect(lean.discovery.stats.divergences).toBe(0);
    });
  });
}
