// Loads a Lua script of `lua/` by name: resolves its `--@include "<name>"` lines from
// `lua/includes/` (each include once, its own includes first) and reads its key count from its name.
import { LUA_SOURCES } from './lua/lua-sources.generated.js';

export interface LuaSource {
  name: string;
  /** How many KEYS the script takes: the number its file name ends with (`claim-2.lua`). */
  keyCount: number;
  /** The script with every include spliced in. */
  source: string;
}

const INCLUDE = /^--@include "([\w-]+)"\s*$/;

/** The script `lua/<name>.lua`, ready to send. Throws on an unknown script or include. */
export function loadLua(
  name: string,
  sources: Readonly<Record<string, string>> = LUA_SOURCES,
): LuaSource {
  const keys = /-(\d+)$/.exec(name);
  if (!keys) throw new Error(`Lua script name ${name} must end with its key count (name-<keys>)`);
  const text = sources[name];
  if (text === undefined) throw new Error(`No Lua script ${name}.lua`);
  return { name, keyCount: Number(keys[1]), source: expand(text, name, sources, new Set()) };
}

function expand(
  text: string,
  from: string,
  sources: Readonly<Record<string, string>>,
  included: Set<string>,
): string {
  return text
    .split('\n')
    .map((line) => {
      const include = INCLUDE.exec(line)?.[1];
      if (include === undefined) return line;
      if (included.has(include)) return `-- (${include}: included above)`;
      const body = sources[`includes/${include}`];
      if (body === undefined) throw new Error(`${from}.lua includes unknown "${include}"`);
      included.add(include);
      return expand(body.replace(/\n$/, ''), include, sources, included);
    })
    .join('\n');
}
