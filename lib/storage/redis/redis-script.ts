// A Lua script of `lua/` sent by EVALSHA (its SHA1 computed once), loaded with EVAL on the first
// NOSCRIPT (after a restart or a failover), on a Redis or a Cluster client.
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { loadLua } from './lua-scripts.js';

export type ScriptReply = Array<string | number | boolean | null>;

export class RedisScript {
  readonly sha: string;
  readonly source: string;
  readonly keyCount: number;

  /** `name` is the file name without `.lua`, e.g. `claim-2`. */
  constructor(readonly name: string) {
    ({ source: this.source, keyCount: this.keyCount } = loadLua(name));
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(client: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    if (keys.length !== this.keyCount) {
      throw new Error(`${this.name}.lua takes ${this.keyCount} keys, got ${keys.length}`);
    }
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /** Like `run`, for scripts that reply with an array. */
  async list(
    client: RedisClient,
    keys: string[],
    args: Array<string | number>,
  ): Promise<ScriptReply> {
    return (await this.run(client, keys, args)) as ScriptReply;
  }
}
