import type { CommandSpec } from './command.js';
import { closest, UsageError } from './errors.js';

/**
 * The one list of subcommands. Modules load on demand, so `kstream filter` never pays for importing kafkajs.
 * Order is the order of `kstream --help`.
 */
export const COMMAND_NAMES = [
  'consume', 'produce', 'map', 'filter', 'flatmap', 'window', 'aggregate', 'dedupe',
  'gen', 'stats', 'bench', 'topics', 'groups', 'profile', 'completion',
] as const;

const cache = new Map<string, CommandSpec>();

export async function loadCommand(name: string): Promise<CommandSpec> {
  const hit = cache.get(name);
  if (hit) return hit;
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    const near = closest(name, COMMAND_NAMES);
    throw new UsageError(`unknown command \`${name}\``, near ? `did you mean \`${near}\`? see \`kstream --help\`` : 'see `kstream --help`');
  }
  let mod: { default: CommandSpec };
  try {
    mod = await import(`../../commands/${name}.js`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`commands/${name}.js`)) {
      throw new UsageError(`command \`${name}\` is not available in this build`, 'see `kstream --help`');
    }
    throw e;
  }
  cache.set(name, mod.default);
  return mod.default;
}

/** Every command that exists in this build (for the top-level help). */
export async function loadAll(): Promise<CommandSpec[]> {
  const out: CommandSpec[] = [];
  for (const n of COMMAND_NAMES) {
    try {
      out.push(await loadCommand(n));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
  }
  return out;
}
