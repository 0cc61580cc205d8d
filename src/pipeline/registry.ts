import type { Commands, CommandSpec } from './command.js';
export type { Commands };
import { closest, UsageError } from './errors.js';

/**
 * The names of the subcommands, in the order of `kstream --help`, and the shape of the table that loads them.
 * The table itself (commands/index.ts) sits on the commands' floor and is handed down by the entry points
 * (src/cli.ts, src/worker.ts): code on this floor parses command lines without importing any command.
 */
export const COMMAND_NAMES = [
  'consume', 'produce', 'map', 'filter', 'flatmap', 'window', 'aggregate', 'dedupe', 'table', 'join', 'lookup',
  'gen', 'stats', 'top', 'serve', 'bench', 'topics', 'groups', 'profile', 'completion',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

/**
 * A table over one loader per command. Loaders are literal `import()`s (in commands/index.ts): modules still load
 * on demand, so `kstream filter` never pays for the Kafka client, and a bundler (npm run build:bin) sees them all.
 */
export function commandTable(loaders: Record<CommandName, () => Promise<{ default: CommandSpec }>>): Commands {
  const load = async (name: string): Promise<CommandSpec> => {
    if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
      const near = closest(name, COMMAND_NAMES);
      throw new UsageError(`unknown command \`${name}\``, near ? `did you mean \`${near}\`? see \`kstream --help\`` : 'see `kstream --help`');
    }
    return (await loaders[name as CommandName]()).default;
  };
  return { load, all: () => Promise.all(COMMAND_NAMES.map(load)) };
}
