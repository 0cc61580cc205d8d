import fs from 'node:fs';
import path from 'node:path';
import type { BuildContext, CommandSpec, Opts } from '../src/pipeline/command.js';
import type { SideInput } from '../src/pipeline/stage.js';
import { RuntimeError, UsageError } from '../src/pipeline/errors.js';
import { carryHint, compileExpr, NO_TIME, timeHint } from '../src/operators/expr.js';
import { parseDuration } from '../src/time/duration.js';
import { compileSelect, JoinStage } from '../src/operators/join.js';
import { StreamJoinStage } from '../src/operators/streamjoin-stage.js';
import { keyText } from '../src/operators/table.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import { TopicSide } from '../src/kafka/connect/side.js';
import { FileSide } from '../src/io/side-file.js';
import { kafkaLog } from './consume.js';

const SIDE_HINT = 'name the other side with its kind: global:<topic> (a topic read whole as a table), file:<path> (an NDJSON file), or stream:<topic> / stream:file:<path> (a second stream, joined in a window)';

/**
 * The side a `join`, `table` or `lookup` names: `global:<topic>`, `file:<path>`, and for a join (`streams`) also
 * `stream:<topic>` or `stream:file:<path>`; and the name `--as` defaults to (the topic, or the file's name without
 * its extension). `table:` sides need partitioned state and are refused with what works today.
 */
export function sideOf(spec: string, opts: Opts, ctx: BuildContext, follow: boolean, what: string, streams = false): { side: SideInput; as: string; stream: boolean } {
  const m = /^(global|file|table|stream):(.+)$/.exec(spec);
  if (!m) throw new UsageError(`${what} \`${spec}\` does not say what it is`, SIDE_HINT);
  let [, kind, name] = m;
  const stream = kind === 'stream';
  if (kind === 'table' || (stream && !streams)) {
    throw new UsageError(
      kind === 'table' ? '`table:` sides are not built yet (they need state partitioned like the input)' : '`stream:` names a second stream for `join`, not a table',
      kind === 'table' ? 'use global:<topic>: every process reads the whole topic as its table' : 'read a topic as a table with global:<topic>, or give the topic alone',
    );
  }
  if (stream && name.startsWith('file:')) {
    kind = 'file';
    name = name.slice('file:'.length);
  }
  if (kind === 'file') {
    // a file of stream records keyed by --right-on needs no key of its own
    const keySource = opts.key !== undefined ? opts.key : stream && opts.rightOn !== undefined ? opts.rightOn : undefined;
    const keyExpr = keySource === undefined ? undefined : compileExpr(String(keySource), opts.key !== undefined ? 'key expression (--key)' : 'side join key (--right-on)');
    const keyOf = keyExpr && ((v: unknown) => keyExpr.fn(v, undefined, undefined, undefined));
    return { side: new FileSide(name, spec, keyOf, keyText), as: path.basename(name).replace(/\.[^.]*$/, ''), stream };
  }
  if (opts.key !== undefined) throw new UsageError('--key applies to file: sides', 'a topic\'s rows are keyed by their record keys');
  const cfg = connectionConfig(opts, process.env, kafkaLog(opts, ctx));
  return { side: new TopicSide(cfg, name, spec, follow), as: name, stream };
}

/** The options of a stream–stream join, refused with any other side. */
const STREAM_ONLY = ['within', 'before', 'after', 'grace', 'outer', 'late', 'maxIdle', 'sideTime', 'rightOn'] as const;
const dashed = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** `join stream:…`: the windowed stream–stream join's stage from its options. */
function streamJoin(side: SideInput, as: string, file: boolean, opts: Opts, ctx: BuildContext): StreamJoinStage {
  for (const k of ['asOf', 'history'] as const) {
    if (opts[k] !== undefined && opts[k] !== false) throw new UsageError(`${dashed(k)} is for table sides`, 'a stream–stream join matches records by time already: --within, --before, --after');
  }
  const dur = (k: 'within' | 'before' | 'after' | 'grace' | 'maxIdle') => (opts[k] === undefined ? undefined : parseDuration(opts[k], dashed(k)));
  const within = dur('within');
  const beforeMs = dur('before') ?? within;
  const afterMs = dur('after') ?? within;
  if (beforeMs === undefined || afterMs === undefined) {
    throw new UsageError(`\`join ${side.name}\` needs a join window`, 'give --within <dur> (records at most that far apart in event time match), or --before <dur> and --after <dur>');
  }
  if (opts.outer && opts.left) throw new UsageError('--left and --outer both say which unmatched records go out', 'give one: --left keeps the stream\'s, --outer both sides\'');
  const time = opts.time !== undefined ? compileExpr(String(opts.time), '--time expression', ctx.carries, ctx.fused) : undefined;
  if (!time && !ctx.carries.ts) throw new UsageError(NO_TIME(`join ${side.name}`, ctx.carries), timeHint(ctx.fused));
  if (file && opts.sideTime === undefined) throw new UsageError(`\`${side.name}\` is a file, whose records have no timestamps`, 'give the side\'s event time with --side-time <expr>, e.g. --side-time r.ts');
  const sideTime = opts.sideTime !== undefined ? compileExpr(String(opts.sideTime), '--side-time expression') : undefined;
  const rightOn = opts.rightOn !== undefined && !(file && opts.key === undefined) ? compileExpr(String(opts.rightOn), 'side join key (--right-on)') : undefined;
  if (opts.late === true) throw new UsageError('--late needs a file', 'e.g. --late late.ndjson');
  let onLate: ((line: string) => void) | undefined;
  let onEnd: (() => void) | undefined;
  if (opts.late !== undefined) {
    const file = String(opts.late);
    let fd: number | undefined;
    onLate = (line) => {
      try {
        fd ??= fs.openSync(file, 'a');
        fs.writeSync(fd, line + '\n');
      } catch (e) {
        throw new RuntimeError(`cannot write late records to \`${file}\`: ${(e as Error).message}`);
      }
    };
    onEnd = () => {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    };
  }
  return new StreamJoinStage({
    side,
    on: compileExpr(opts.on === undefined ? 'key' : String(opts.on), 'join key (--on)', ctx.carries, ctx.fused),
    rightOn,
    time,
    sideTime,
    beforeMs,
    afterMs,
    graceMs: dur('grace') ?? 0,
    mode: opts.outer ? 'outer' : opts.left ? 'left' : 'inner',
    as,
    select: selectOf(opts, ctx),
    maxIdleMs: dur('maxIdle'),
    errors: ctx.errors('join'),
    timeErrors: ctx.errors('join'),
    onLate,
    onEnd,
  });
}

function selectOf(opts: Opts, ctx: BuildContext) {
  if (opts.select === undefined) return undefined;
  const select = compileSelect(String(opts.select));
  for (const name of select.uses) {
    if (!ctx.carries[name]) throw new UsageError(`--select \`${select.source}\` reads \`${name}\`, which ${ctx.carries.what ?? 'records read from a pipe'} do not carry`, carryHint(ctx.fused));
  }
  return select;
}

const join: CommandSpec = {
  name: 'join',
  args: '<side>',
  summary: 'Enrich each record with the row of a table that its join key names (stream–table join), or with the records of a second stream near it in time (stream–stream join)',
  examples: [
    'kstream consume orders --group enrich + join global:customers --on r.customer_id --left --as customer + produce orders-enriched',
    'kstream gen --count 5 | kstream join file:pages.ndjson --key r.path --on r.page --as info',
    "kstream consume orders --exit | kstream join global:customers --on r.customer_id --select '({id: r.id, name: o.name})'",
    'kstream consume orders --exit + join stream:payments --on r.order_id --within 1h --grace 5m --left --as payment',
    "kstream join stream:file:payments.ndjson --right-on r.order_id --side-time r.ts --on r.id --time r.ts --within 10m --outer < orders.ndjson",
  ],
  notes: [
    'A table side (global:, file:) is read to its end offsets before the first record is joined (one line on stderr: rows, seconds); a global: side then keeps following its topic, and its updates change the table between batches without emitting anything.',
    'A record with a null value is dropped; one whose join key is null or absent from the table is dropped, or with --left goes out with null. Output key and timestamp are the record\'s.',
    'stream:<topic> (read from its start, read_committed, no group) or stream:file:<path> is a second stream: a record matches every record of the other stream with the same join key whose event time lies in its window, tl - before <= tr <= tl + after (--within sets both), each pair going out at max(tl, tr). The two streams are taken in event-time order: a record waits until the other stream has shown a record at or past its time, has reached the end offsets seen at start (a file: its end), or has been idle for --max-idle; so a bounded run gives one result whatever order the inputs arrive in. A record behind the watermark (stream time - --grace) is late: dropped, counted, written to --late. With --left (--outer: either side) a record that matched nothing goes out alone, at its own time, once the watermark has passed t + after (a side record: t + before) or at end of input, never before a match could still come.',
    'A stream: side\'s event time is its record timestamp, or --side-time <expr> over its value (required for a file, whose lines carry none); its join key is its record key (a file: --key, or {"key", "value"} lines), or --right-on <expr>. Unmatched side records (--outer) go out as {<as>: o} (or --select with r = null), keyed by their own key. After consume --group it is at-least-once: its held and waiting records and the side\'s position are checkpointed into the group\'s state topic with the offsets, and a restarted run reads the side on from there; --exactly-once is refused (not built yet).',
  ],
  options: [
    { flags: '--on <expr>', kind: 'expr', description: 'The join key: an expression over r (default: the record key); compared as text, numbers as JSON writes them' },
    { flags: '--left', description: 'Keep records without a match, with null for the table row (a stream: side: once their window has closed)' },
    { flags: '--outer', description: 'stream: sides: keep unmatched records of both streams, each alone once its window has closed' },
    { flags: '--as <name>', description: 'The field the row\'s value goes into (default: the topic\'s or file\'s name)' },
    { flags: '--select <expr>', kind: 'expr', description: 'Build the output instead: an expression over r, o (the row\'s value, or the other stream record\'s; null when none), key, okey, ts, ots' },
    { flags: '--as-of', description: 'Versioned lookups: each record sees the table as of its own event time (KS versioned stores), not as it is now' },
    { flags: '--history <dur>', kind: 'duration', description: 'With --as-of: how far back the table keeps its versions, behind its newest row; an older record has no row (default 1d)' },
    { flags: '--time <expr>', kind: 'expr', description: 'With --as-of or a stream: side: the record\'s event time, ms since the epoch or ISO-8601 (default: the Kafka record timestamp)' },
    { flags: '--key <expr>', kind: 'expr', description: 'file: sides: the key of each line (default: lines are {"key", "value"}, as `kstream table --snapshot` writes them)' },
    { flags: '--within <dur>', kind: 'duration', description: 'stream: sides: records at most this far apart in event time match (sets --before and --after)' },
    { flags: '--before <dur>', kind: 'duration', description: 'stream: sides: how far before a record\'s time the other stream\'s may lie (default: --within)' },
    { flags: '--after <dur>', kind: 'duration', description: 'stream: sides: how far after a record\'s time the other stream\'s may lie (default: --within)' },
    { flags: '--grace <dur>', kind: 'duration', description: 'stream: sides: how far behind stream time a record may be and still join (default 0)' },
    { flags: '--late <file>', kind: 'file', description: 'stream: sides: append late records to this NDJSON file (side records as {key, value, timestamp})' },
    { flags: '--side-time <expr>', kind: 'expr', description: 'stream: sides: a side record\'s event time, an expression over its value r (default: its Kafka record timestamp; required for a file)' },
    { flags: '--right-on <expr>', kind: 'expr', description: 'stream: sides: a side record\'s join key, an expression over its value r (default: its record key)' },
    { flags: '--max-idle <dur>', kind: 'duration', description: 'stream: sides: a stream that has delivered nothing for this long holds the other back no more (default: wait for it, or for its end)' },
    ...CONNECTION_OPTIONS,
  ],
  stage(args, opts, ctx) {
    if (args.length !== 1) throw new UsageError(args.length ? `join takes one side, got ${args.length}` : 'join needs a side', SIDE_HINT);
    const { side, as, stream } = sideOf(args[0], opts, ctx, true, 'the side', true);
    if (opts.on === undefined && !ctx.carries.key) {
      throw new UsageError(`join matches on the record key by default, and ${ctx.carries.what ?? 'records read from a pipe'} carry none`, `give the join key with --on <expr> (e.g. --on r.customer_id), or ${carryHint(ctx.fused)}`);
    }
    if (opts.as !== undefined && opts.select !== undefined) throw new UsageError('--as and --select both shape the output', 'give one: --as <field> adds the other side\'s value to the record, --select builds the output');
    const name = opts.as === undefined ? as : String(opts.as);
    if (stream) return streamJoin(side, name, args[0].startsWith('stream:file:'), opts, ctx);
    for (const k of STREAM_ONLY) {
      if (opts[k] !== undefined && opts[k] !== false) throw new UsageError(`${dashed(k)} applies to stream: sides`, `a table side is looked up by key; join a second stream with stream:<topic> for a windowed join`);
    }
    const on = compileExpr(opts.on === undefined ? 'key' : String(opts.on), 'join key (--on)', ctx.carries, ctx.fused);
    const select = selectOf(opts, ctx);
    let asOf;
    if (opts.asOf) {
      const time = opts.time !== undefined ? compileExpr(String(opts.time), '--time expression', ctx.carries, ctx.fused) : undefined;
      if (!time && !ctx.carries.ts) throw new UsageError(NO_TIME('join --as-of', ctx.carries), timeHint(ctx.fused));
      asOf = { historyMs: parseDuration(opts.history ?? '1d', '--history'), time };
      if (args[0].startsWith('file:')) throw new UsageError('--as-of needs the rows\' times, which a file: side has not', 'join a topic (global:<topic>) for versioned lookups');
    } else if (opts.history !== undefined || opts.time !== undefined) {
      throw new UsageError(`${opts.history !== undefined ? '--history' : '--time'} applies with --as-of`, 'add --as-of for versioned lookups by event time');
    }
    return new JoinStage({ side, on, left: !!opts.left, asOf, as: name, select, errors: ctx.errors('join'), log: ctx.quiet ? undefined : ctx.log });
  },
};

export default join;
