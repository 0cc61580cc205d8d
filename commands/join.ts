import path from 'node:path';
import type { BuildContext, CommandSpec, Opts } from '../src/pipeline/command.js';
import type { SideInput } from '../src/pipeline/stage.js';
import { UsageError } from '../src/pipeline/errors.js';
import { carryHint, compileExpr, NO_TIME, timeHint } from '../src/operators/expr.js';
import { parseDuration } from '../src/time/duration.js';
import { compileSelect, JoinStage } from '../src/operators/join.js';
import { keyText } from '../src/operators/table.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import { TopicSide } from '../src/kafka/connect/side.js';
import { FileSide } from '../src/io/side-file.js';
import { kafkaLog } from './consume.js';

const SIDE_HINT = 'name the other side with its kind: global:<topic> (a topic read whole as a table) or file:<path> (an NDJSON file)';

/**
 * The table side a `join` or `table` names: `global:<topic>`, `file:<path>`; and the name `--as` defaults to (the
 * topic, or the file's name without its extension). `table:` and `stream:` sides need partitioned state and are
 * refused with what works today.
 */
export function sideOf(spec: string, opts: Opts, ctx: BuildContext, follow: boolean, what: string): { side: SideInput; as: string } {
  const m = /^(global|file|table|stream):(.+)$/.exec(spec);
  if (!m) throw new UsageError(`${what} \`${spec}\` does not say what it is`, SIDE_HINT);
  const [, kind, name] = m;
  if (kind === 'table' || kind === 'stream') {
    throw new UsageError(
      `\`${kind}:\` sides are not built yet (they need state partitioned like the input)`,
      kind === 'table' ? 'use global:<topic>: every process reads the whole topic as its table' : 'stream–stream joins are not built yet; see `kstream join --help`',
    );
  }
  if (kind === 'file') {
    const keyExpr = opts.key === undefined ? undefined : compileExpr(String(opts.key), 'key expression (--key)');
    const keyOf = keyExpr && ((v: unknown) => keyExpr.fn(v, undefined, undefined, undefined));
    return { side: new FileSide(name, spec, keyOf, keyText), as: path.basename(name).replace(/\.[^.]*$/, '') };
  }
  if (opts.key !== undefined) throw new UsageError('--key applies to file: sides', 'a topic\'s rows are keyed by their record keys');
  const cfg = connectionConfig(opts, process.env, kafkaLog(opts, ctx));
  return { side: new TopicSide(cfg, name, spec, follow), as: name };
}

const join: CommandSpec = {
  name: 'join',
  args: '<side>',
  summary: 'Enrich each record with the row of a table that its join key names (stream–table join)',
  examples: [
    'kstream consume orders --group enrich + join global:customers --on r.customer_id --left --as customer + produce orders-enriched',
    'kstream gen --count 5 | kstream join file:pages.ndjson --key r.path --on r.page --as info',
    "kstream consume orders --exit | kstream join global:customers --on r.customer_id --select '({id: r.id, name: o.name})'",
  ],
  notes: [
    'The side is read to its end offsets before the first record is joined (one line on stderr: rows, seconds); a global: side then keeps following its topic, and its updates change the table between batches without emitting anything.',
    'A record with a null value is dropped; one whose join key is null or absent from the table is dropped, or with --left goes out with null. Output key and timestamp are the record\'s.',
  ],
  options: [
    { flags: '--on <expr>', kind: 'expr', description: 'The join key: an expression over r (default: the record key); compared as text, numbers as JSON writes them' },
    { flags: '--left', description: 'Keep records without a match, with null for the table row' },
    { flags: '--as <name>', description: 'The field the row\'s value goes into (default: the topic\'s or file\'s name)' },
    { flags: '--select <expr>', kind: 'expr', description: 'Build the output instead: an expression over r, o (the row\'s value, null when none), key, okey, ts, ots' },
    { flags: '--as-of', description: 'Versioned lookups: each record sees the table as of its own event time (KS versioned stores), not as it is now' },
    { flags: '--history <dur>', kind: 'duration', description: 'With --as-of: how far back the table keeps its versions, behind its newest row; an older record has no row (default 1d)' },
    { flags: '--time <expr>', kind: 'expr', description: 'With --as-of: the record\'s event time, ms since the epoch or ISO-8601 (default: the Kafka record timestamp)' },
    { flags: '--key <expr>', kind: 'expr', description: 'file: sides: the key of each line (default: lines are {"key", "value"}, as `kstream table --snapshot` writes them)' },
    ...CONNECTION_OPTIONS,
  ],
  stage(args, opts, ctx) {
    if (args.length !== 1) throw new UsageError(args.length ? `join takes one side, got ${args.length}` : 'join needs a side', SIDE_HINT);
    const { side, as } = sideOf(args[0], opts, ctx, true, 'the side');
    if (opts.on === undefined && !ctx.carries.key) {
      throw new UsageError(`join matches on the record key by default, and ${ctx.carries.what ?? 'records read from a pipe'} carry none`, `give the join key with --on <expr> (e.g. --on r.customer_id), or ${carryHint(ctx.fused)}`);
    }
    const on = compileExpr(opts.on === undefined ? 'key' : String(opts.on), 'join key (--on)', ctx.carries, ctx.fused);
    let select;
    if (opts.select !== undefined) {
      select = compileSelect(String(opts.select));
      for (const name of select.uses) {
        if (!ctx.carries[name]) throw new UsageError(`--select \`${select.source}\` reads \`${name}\`, which ${ctx.carries.what ?? 'records read from a pipe'} do not carry`, carryHint(ctx.fused));
      }
    }
    if (opts.as !== undefined && select) throw new UsageError('--as and --select both shape the output', 'give one: --as <field> adds the row to the record, --select builds the output');
    let asOf;
    if (opts.asOf) {
      const time = opts.time !== undefined ? compileExpr(String(opts.time), '--time expression', ctx.carries, ctx.fused) : undefined;
      if (!time && !ctx.carries.ts) throw new UsageError(NO_TIME('join --as-of', ctx.carries), timeHint(ctx.fused));
      asOf = { historyMs: parseDuration(opts.history ?? '1d', '--history'), time };
      if (args[0].startsWith('file:')) throw new UsageError('--as-of needs the rows\' times, which a file: side has not', 'join a topic (global:<topic>) for versioned lookups');
    } else if (opts.history !== undefined || opts.time !== undefined) {
      throw new UsageError(`${opts.history !== undefined ? '--history' : '--time'} applies with --as-of`, 'add --as-of for versioned lookups by event time');
    }
    return new JoinStage({ side, on, left: !!opts.left, asOf, as: opts.as === undefined ? as : String(opts.as), select, errors: ctx.errors('join'), log: ctx.quiet ? undefined : ctx.log });
  },
};

export default join;
