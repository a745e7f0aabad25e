// A throw-away redis-server whose clock (what Redis TIME reports) a test steps while it runs, as an
// NTP step, a VM resume or a failover to a host whose clock differs would: see stepped-clock.c.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RedisServer } from '../../scripts/redis-server.mjs';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'stepped-clock', 'stepped-clock.c');
let library: string | undefined;

/** Builds the preload library once per test process (needs a C compiler: `cc`). */
function steppedClockLibrary(): string {
  if (library) return library;
  const out = join(mkdtempSync(join(tmpdir(), 'stepped-clock-')), 'stepped-clock.so');
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, SOURCE], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `Could not build the stepped-clock library with cc (apt-get install -y gcc): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return (library = out);
}

export interface SteppedRedis {
  server: RedisServer;
  url: string;
  /** Moves Redis's clock by `ms` (negative: back), relative to where it is now. */
  step(ms: number): void;
  /** The total offset from the real clock, ms. */
  readonly offset: number;
  stop(): Promise<void>;
}

export async function startSteppedRedis(args: string[] = []): Promise<SteppedRedis> {
  const file = join(mkdtempSync(join(tmpdir(), 'redis-clock-')), 'offset');
  let offset = 0;
  let created = false;
  const write = () => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(Math.round(offset)));
    // Written in place, never truncated: Redis has the file mapped.
    const fd = openSync(file, created ? 'r+' : 'w');
    created = true;
    writeSync(fd, buffer, 0, 8, 0);
    closeSync(fd);
  };
  write();
  const server = await startRedisServer({
    args,
    env: { LD_PRELOAD: steppedClockLibrary(), REDIS_CLOCK_OFFSET_FILE: file },
    label: 'redis-server (stepped clock)',
  });
  return {
    server,
    url: server.url,
    step(ms: number) {
      offset += ms;
      write();
    },
    get offset() {
      return offset;
    },
    stop: () => server.stop(),
  };
}
