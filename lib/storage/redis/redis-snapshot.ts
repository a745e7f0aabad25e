// Reads the whole registry from Redis page by page, without a script: each round trip scans the
// next page of the nodes hash and reads the deadlines and tags of the page before, in one pipeline.
// A page whose records changed before their tags were read is hashed here instead (torn pairs).
import type { RedisClient } from './redis-client.js';
import { recordTag } from '../registry-digest.js';
import { ownerTag } from '../registry-owner.js';
import type { RecordLeases } from '../record-lease.js';
import type { RegistryKeys } from '../registry-keys.js';

/** Nodes per page (HSCAN COUNT): each command of a round blocks Redis for well under a ms. */
const PAGE = 1000;

interface Page {
  ids: string[];
  records: string[];
  /** The registry's version read just before the page was scanned. */
  versionBefore: string | null;
}

type Pipeline = ReturnType<RedisClient['pipeline']>;

/**
 * Calls `onPage` with the records alive at `now` (Redis time) of each page, and their tags,
 * while the next round is on its way. Pages are not one atomic read: changes made meanwhile come
 * as events. `finish` adds the last command to the last round (the registry's state).
 */
export async function readPages(
  client: RedisClient,
  keys: RegistryKeys,
  now: number,
  onPage: (records: string[], tags: string[], skipped: number) => void,
  finish: (pipeline: Pipeline) => void,
  leases?: RecordLeases,
): Promise<unknown> {
  let cursor = '0';
  let pending: Page | undefined;
  let round = send(undefined, true);
  for (;;) {
    const replies = (await round) ?? [];
    for (const [error] of replies) if (error) throw error;
    let at = 0;
    const versionBefore = replies[at++][1] as string | null;
    let scanned: Page | undefined;
    if (pending === undefined || cursor !== '0') {
      const [next, flat] = replies[at++][1] as [string, string[]];
      cursor = next;
      scanned = { ids: [], records: [], versionBefore };
      for (let i = 0; i + 1 < flat.length; i += 2) {
        scanned.ids.push(flat[i]);
        scanned.records.push(flat[i + 1]);
      }
    }
    let deadlines: Array<string | null> = [];
    let owners: Array<string | null> = [];
    if (pending && pending.ids.length > 0) {
      deadlines = replies[at++][1] as Array<string | null>;
      owners = replies[at++][1] as Array<string | null>;
    }
    // Unchanged since `pending` was scanned: its records and the tags just read belong together.
    const intact = pending?.versionBefore === (replies[at++][1] as string | null);
    if (!scanned) {
      // The last round: the last page's deadlines and tags, and the state `finish` asked for.
      if (pending) hand(pending, deadlines, owners, intact);
      return replies[at][1];
    }
    const done = pending;
    pending = scanned;
    round = send(pending, cursor !== '0'); // on its way while the page before is handed over
    if (done) hand(done, deadlines, owners, intact);
  }

  function send(page: Page | undefined, scan: boolean) {
    const pipeline = client.pipeline();
    pipeline.hget(keys.meta, 'version');
    if (scan) pipeline.hscan(keys.nodes, cursor, 'COUNT', PAGE);
    if (page && page.ids.length > 0) {
      pipeline.zmscore(keys.deadlines, ...page.ids);
      pipeline.hmget(keys.meta, ...page.ids.map((id) => `o:${id}`));
    }
    pipeline.hget(keys.meta, 'version');
    if (!scan) finish(pipeline);
    return pipeline.exec();
  }

  /**
   * Hands over the live records of `page` with their tags. The owner field keeps each record's
   * tag, but it is read a round trip after the record: if the registry changed in between
   * (`intact` false), an older record could be paired with a newer tag, which the digest could
   * never tell apart from the truth, so that page's tags are computed from its records instead.
   */
  function hand(
    page: Page,
    deadlines: Array<string | null>,
    owners: Array<string | null>,
    intact: boolean,
  ) {
    const records: string[] = [];
    const tags: string[] = [];
    let skipped = 0;
    for (let i = 0; i < page.ids.length; i++) {
      if (deadlines[i] === null || Number(deadlines[i]) <= now) continue;
      // With a key, a record counts only while its owner's signed lease vouches for it.
      if (leases && leases.validUntil(page.ids[i], page.records[i], owners[i]) <= now) {
        skipped += 1;
        continue;
      }
      const tag = intact && owners[i] ? ownerTag(owners[i]!) : undefined;
      records.push(page.records[i]);
      // A record left without an owner (written directly) is hashed here too.
      tags.push(tag ?? recordTag(page.records[i]));
    }
    onPage(records, tags, skipped);
  }
}
