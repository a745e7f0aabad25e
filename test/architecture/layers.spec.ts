import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * The import rule of ARCHITECTURE.md, checked on the source: every import of lib/ points to its own
 * layer or a lower one; nothing imports back up. Two leaf files that import nothing of the library
 * (the injection tokens and the public node types) may be used from any layer.
 */
const LAYERS: Array<[layer: string, folders: string[]]> = [
  ['common', ['common', 'common/telemetry']],
  ['options', ['options']],
  ['storage', ['storage', 'storage/memory', 'storage/redis', 'storage/redis/lua']],
  ['view', ['discovery/view']],
  ['membership', ['discovery/membership']],
  ['facade and pool', ['discovery', 'node-pool']],
  ['jobs and health', ['jobs', 'health']],
  ['dashboard', ['dashboard']],
  ['module', ['.']],
];
const LEAVES = ['discovery.constants.ts', 'discovery/node-info.interface.ts'];

const lib = join(process.cwd(), 'lib');
const rank = (folder: string) => LAYERS.findIndex(([, folders]) => folders.includes(folder));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('lib/ layers', () => {
  const files = sources(lib);

  it('puts every folder of lib/ in a layer', () => {
    const folders = new Set(files.map((file) => relative(lib, dirname(file)) || '.'));
    expect([...folders].filter((folder) => rank(folder) < 0)).toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = relative(lib, dirname(file)) || '.';
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(lib, normalize(join(dirname(file), spec))).replace(/\.js$/, '.ts');
        if (LEAVES.includes(target)) continue;
        const to = dirname(target);
        if (rank(to) > rank(from)) upward.push(`${relative(lib, file)} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps the leaves free of library imports', () => {
    for (const leaf of LEAVES) {
      const text = readFileSync(join(lib, leaf), 'utf8');
      const imports = [...text.matchAll(/from '(\.[^']+)'/g)].map((m) => m[1]);
      expect(imports.filter((spec) => !spec.includes('options/'))).toEqual([]);
    }
  });

  it('keeps every file under 260 lines', () => {
    const long = files
      .filter((file) => !file.endsWith('.generated.ts'))
      .map((file) => [relative(lib, file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 260);
    expect(long).toEqual([]);
  });
});
