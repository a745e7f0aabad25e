// The package as users get it: `npm pack`, then three fresh apps install the tarball from the npm
// registry's dependencies and use it against a throw-away redis-server:
//   nest11-cjs   Nest 11, CommonJS, TypeScript (both `module: nodenext` and `commonjs`), the default
//                Jest setup of a Nest 11 app (ts-jest, no transform or moduleNameMapper workaround)
//   nest12-esm   Nest 12, native ESM, TypeScript `nodenext`, run with node
//   pnpm-strict  the ESM app installed by pnpm (isolated node_modules: only declared packages resolve)
// Each must type-check, boot, register, find itself by a semver range and run its @Interval job.
// Usage: npm run smoke:pack [-- scenario...]. Needs the npm registry (and npx for pnpm) and
// redis-server. SMOKE_KEEP=1 keeps the work directory. Exits non-zero if any scenario fails.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from './redis-server.mjs';
import { SCENARIOS } from './smoke-pack/scenarios.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const templates = join(root, 'scripts/smoke-pack');
const wanted = process.argv.slice(2);
const chosen = SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name));
if (chosen.length === 0) throw new Error(`no scenario named ${wanted.join(', ')}`);

const work = mkdtempSync(join(tmpdir(), 'smoke-pack-'));
const run = (cwd, command, args, env = {}) => {
  console.log(`  $ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
};

console.log(`packing into ${work}`);
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
  cwd: root,
  stdio: 'inherit',
});
const tarball = join(
  work,
  readdirSync(work).find((file) => file.endsWith('.tgz')),
);

const redis = await startRedisServer();
const results = [];
try {
  for (const scenario of chosen) {
    const began = Date.now();
    const dir = join(work, scenario.name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    cpSync(join(templates, 'shared'), join(dir, 'src'), { recursive: true });
    cpSync(join(templates, scenario.sources), join(dir, 'src'), { recursive: true });
    for (const [file, content] of Object.entries(scenario.files(tarball))) {
      writeFileSync(
        join(dir, file),
        typeof content === 'string' ? content : JSON.stringify(content, null, 2),
      );
    }
    console.log(`\n== ${scenario.name}: ${scenario.title}`);
    let error;
    try {
      for (const [command, ...args] of scenario.steps) {
        run(dir, command, args, { REDIS_URL: redis.url, SMOKE_PREFIX: `smoke-${scenario.name}` });
      }
    } catch (failure) {
      error = failure;
    }
    results.push({
      name: scenario.name,
      ok: !error,
      seconds: Math.round((Date.now() - began) / 1000),
    });
  }
} finally {
  await redis.stop();
  if (!process.env.SMOKE_KEEP) rmSync(work, { recursive: true, force: true });
}

console.log('\nsmoke:pack');
for (const { name, ok, seconds } of results)
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name} (${seconds} s)`);
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
