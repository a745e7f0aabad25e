// Builds the package in both module formats: ESM in dist/ (the package is "type": "module") and
// CommonJS in dist/cjs/ (with its own package.json saying so), each with its declarations, so
// `import` and `require()` (a default Nest 11 app, its Jest) both get a native build.
// `import.meta.url`, the one ESM-only expression (lib/common/module-require.ts), becomes the
// CommonJS module's own file URL; the build fails if any `import.meta` is left in dist/cjs.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedLua } from './embed-lua.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const cjsDir = join(root, 'dist/cjs');

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? jsFiles(join(dir, entry.name))
      : entry.name.endsWith('.js')
        ? [join(dir, entry.name)]
        : [],
  );
}

embedLua();
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.cjs.json'], { cwd: root, stdio: 'inherit' });
writeFileSync(join(cjsDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
for (const file of jsFiles(cjsDir)) {
  const text = readFileSync(file, 'utf8');
  if (!text.includes('import.meta')) continue;
  const fixed = text.replaceAll(
    'import.meta.url',
    'require("node:url").pathToFileURL(__filename).href',
  );
  if (fixed.includes('import.meta')) {
    throw new Error(`${file}: import.meta left in the CommonJS build`);
  }
  writeFileSync(file, fixed);
}
