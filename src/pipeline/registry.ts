import type { CommandSpec } from './command.js';
import { UsageError } from './errors.js';

/**
 * The one list of subcommands. Modules load on demand, so `kstream filter` never pays for importing kafkajs.
 * Order is the order of `kstream --help`.
 */
export const COMMAND_NAMES = [
  'consume', 'produce', 'map', 'filter', 'flatmap', 'window', 'aggregate', 'dedupe',
  'gen', 'stats', 'bench', 'topics', 'groups',
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

function closest(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestD) { bestD = d; best = n; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
