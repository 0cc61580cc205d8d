import type { CommandSpec } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { TableSource } from '../src/operators/table.js';
import { CONNECTION_OPTIONS } from '../src/kafka/config.js';
import { sideOf } from './join.js';

const table: CommandSpec = {
  name: 'table',
  args: '<topic>',
  summary: 'The latest value per key of a topic (or NDJSON file): its changes as {key, value, old}, or --snapshot',
  examples: [
    'kstream table customers --snapshot > customers.ndjson',
    'kstream table customers | jq -c \'select(.old == null)\'',
    'kstream table file:customers.ndjson --key r.id --snapshot',
  ],
  notes: [
    'A record upserts its key, a tombstone (null value) deletes it, a record without a key changes nothing (counted as null-keys). Changes carry the key and timestamp of the record that made them; a tombstone for an absent key makes none.',
    'The topic is read from its start, read_committed, without a group; without --snapshot or --exit the table keeps following it.',
  ],
  options: [
    { flags: '--snapshot', description: 'Print the live rows as {key, value} once the end offsets seen at start are reached, then exit' },
    { flags: '-e, --exit', description: 'Changes up to the end offsets seen at start, then exit' },
    { flags: '--key <expr>', kind: 'expr', description: 'file: tables: the key of each line (default: lines are {"key", "value"})' },
    ...CONNECTION_OPTIONS,
  ],
  source(args, opts, ctx) {
    if (args.length !== 1) throw new UsageError(args.length ? `table reads one topic, got ${args.length}` : 'table needs a topic', 'kstream table <topic> [--snapshot], or file:<path> for an NDJSON file');
    const spec = /^(global|file|table|stream):/.test(args[0]) ? args[0] : `global:${args[0]}`;
    const snapshot = !!opts.snapshot;
    const { side } = sideOf(spec, opts, ctx, !snapshot && !opts.exit, 'the table');
    return new TableSource(side, snapshot);
  },
};

export default table;
