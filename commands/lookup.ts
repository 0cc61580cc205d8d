import process from 'node:process';
import type { CommandSpec } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS } from '../src/kafka/config.js';
import { loadTable } from '../src/operators/table.js';
import { sideOf } from './join.js';

/**
 * `kstream lookup <table> <key>`: the current value of one key of a table — a topic read to its end offsets (as
 * `table --snapshot` reads it), or an NDJSON file — on stdout as one JSON line; exit 1 when the key has none, like
 * grep. `--all`: every live row as `{key, value}`. Reads the log itself, so it answers while jobs write to it.
 */
const lookup: CommandSpec = {
  name: 'lookup',
  args: '<table> [key]',
  summary: 'The current value of a key in a table (a topic read to its end): one JSON line, exit 1 when absent; --all for every row',
  examples: [
    'kstream lookup customers c42',
    'kstream lookup customers c42 | jq .name',
    'kstream lookup customers --all | wc -l',
  ],
  options: [
    { flags: '--all', description: 'Every live row as {key, value}, in the order their keys were last written' },
    { flags: '--key <expr>', kind: 'expr', description: 'file: tables: the key of each line (default: lines are {"key", "value"})' },
    ...CONNECTION_OPTIONS,
  ],
  async run(args, opts, ctx) {
    const [name, key, ...rest] = args;
    if (name === undefined) throw new UsageError('lookup needs a table', 'kstream lookup <topic> <key>, or --all for every row');
    if (rest.length) throw new UsageError(`lookup takes one key, got ${args.length - 1}`, 'quote a key that holds spaces');
    if (opts.all ? key !== undefined : key === undefined) {
      throw new UsageError(opts.all ? '--all prints every row: give no key' : 'lookup needs a key (or --all)', `kstream lookup ${name} <key>`);
    }
    const spec = /^(global|file|table|stream):/.test(name) ? name : `global:${name}`;
    const { side } = sideOf(spec, opts, ctx, false, 'the table');
    const table = await loadTable(side);
    if (opts.all) {
      let s = '';
      for (const [k, r] of table.entries()) s += JSON.stringify({ key: k, value: r.value }) + '\n';
      process.stdout.write(s);
      return 0;
    }
    const row = table.get(key);
    if (!row) return 1;
    process.stdout.write(JSON.stringify(row.value) + '\n');
    return 0;
  },
};

export default lookup;
