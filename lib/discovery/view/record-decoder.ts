// Turns records read back from Redis into frozen NodeInfo objects, once per distinct record
// (cached), and counts and logs what it has to skip (garbage, or signatures that do not verify).
import type { Logger } from '@nestjs/common';
import type { RecordSigner } from '../../common/record-signer.js';
import { ThrottledWarning } from '../../common/throttled-warning.js';
import type { Telemetry } from '../../common/telemetry/telemetry.js';
import type { NodeInfo } from '../node-info.interface.js';
import { decodeRecord, type Rejection } from './node-record.codec.js';

/** Parsed records kept for fresh lookups and resyncs; emptied when full. */
const DECODED_CACHE_SIZE = 10_000;

export class RecordDecoder {
  /** Raw record -> parsed node (read-only). */
  private readonly decoded = new Map<string, NodeInfo>();
  private readonly badData: ThrottledWarning;

  constructor(
    private readonly signer: RecordSigner | undefined,
    private readonly telemetry: Telemetry,
    logger: Logger,
  ) {
    this.badData = new ThrottledWarning(logger);
  }

  /** The valid records, parsed. */
  decodeAll(records: string[], cache = true): NodeInfo[] {
    return records.flatMap((raw) => this.decode(raw, cache) ?? []);
  }

  /**
   * A record parsed, or undefined (counted) when it is not valid. With `cache`, each distinct
   * record is parsed and checked once (fresh lookups repeat); a snapshot, read once, skips it.
   */
  decode(raw: string, cache = true): NodeInfo | undefined {
    let node = cache ? this.decoded.get(raw) : undefined;
    if (!node) {
      const decoded = decodeRecord(raw, this.signer);
      if (typeof decoded === 'string') return void this.reject(decoded, 'node record in Redis');
      node = decoded;
      if (cache) {
        if (this.decoded.size >= DECODED_CACHE_SIZE) this.decoded.clear();
        this.decoded.set(raw, node);
      }
    }
    return node;
  }

  /** Counts and (throttled) logs something skipped: `what` says where it came from. */
  reject(reason: Rejection, what: string): void {
    if (reason === 'unverified') {
      this.telemetry.count('unverified');
      this.badData.warn(`Skipped a ${what} that failed signature verification`);
    } else if (what.startsWith('message')) {
      this.telemetry.count('malformedEvents');
      this.badData.warn(`Skipped a malformed ${what}`);
    } else {
      this.telemetry.count('malformedRecords');
      this.badData.warn(`Skipped a malformed ${what}`);
    }
  }
}
