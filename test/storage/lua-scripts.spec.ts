import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { loadLua } from '../../lib/storage/redis/lua-scripts.js';
import { LUA_SOURCES } from '../../lib/storage/redis/lua/lua-sources.generated.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';

const scripts = Object.keys(LUA_SOURCES).filter((name) => !name.startsWith('includes/'));
const includes = Object.keys(LUA_SOURCES).filter((name) => name.startsWith('includes/'));

/** The numbered entries of a header line such as `-- KEYS: 1 job hash, 2 job ticks`. */
function headerKeys(text: string): number[] {
  const line = text.split('\n').find((l) => l.startsWith('-- KEYS:'));
  return line ? [...line.matchAll(/(?:^-- KEYS:|,)\s*(\d+) /g)].map((m) => Number(m[1])) : [];
}

describe('Lua scripts (lib/storage/redis/lua)', () => {
  it('has the scripts the stores load', () => {
    expect(scripts.sort()).toEqual(
      [
        'backfill-4',
        'beat-4',
        'claim-2',
        'confirm-2',
        'deregister-4',
        'describe-3',
        'fetch-node-3',
        'pause-2',
        'record-run-3',
        'trigger-2',
        'give-back-2',
        'reap-4',
        'recount-3',
        'recent-claims-2',
        'release-run-2',
        'renew-run-2',
        'scope-4',
        'version-3',
      ].sort(),
    );
  });

  it.each(scripts)(
    '%s: its header lists as many KEYS as its name says, and it uses no other',
    (name) => {
      const { keyCount, source } = loadLua(name);
      expect(headerKeys(LUA_SOURCES[name])).toEqual(
        Array.from({ length: keyCount }, (_, i) => i + 1),
      );
      for (const header of ['-- ARGV:', '-- Returns:']) {
        expect(LUA_SOURCES[name].split('\n').some((l) => l.startsWith(header))).toBe(true);
      }
      const used = [...source.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(Math.max(0, ...used)).toBeLessThanOrEqual(keyCount);
    },
  );

  it('resolves every include, once per script, and every include is used', () => {
    const used = new Set<string>();
    for (const name of scripts) {
      const { source } = loadLua(name);
      expect(source).not.toMatch(/^--@include/m);
      for (const include of includes) {
        const body = LUA_SOURCES[include];
        if (source.includes(body.split('\n').find((l) => l.startsWith('local'))!))
          used.add(include);
      }
      const functions = [...source.matchAll(/^local function (\w+)/gm)].map((m) => m[1]);
      expect(new Set(functions).size).toBe(functions.length);
    }
    expect([...used].sort()).toEqual(includes.sort());
  });

  it('refuses an unknown include or a name without a key count', () => {
    expect(() => loadLua('x-1', { 'x-1': '--@include "nope"\nreturn 1' })).toThrow(
      'x-1.lua includes unknown "nope"',
    );
    expect(() => loadLua('x', { x: 'return 1' })).toThrow('must end with its key count');
    expect(() => loadLua('missing-1', {})).toThrow('No Lua script missing-1.lua');
  });

  describe('on a real Redis', () => {
    let redis: RedisHandle;
    let client: Redis;
    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis(redis.url);
    });
    afterAll(async () => {
      client.disconnect();
      await redis.stop();
    });

    it.each(scripts)('%s compiles (SCRIPT LOAD)', async (name) => {
      const sha = await client.script('LOAD', loadLua(name).source);
      expect(sha).toMatch(/^[0-9a-f]{40}$/);
    });
  });
});
