import fs from 'node:fs';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { encodeValue, type Rec } from '../src/pipeline/record.js';
import { RuntimeError, UsageError } from '../src/pipeline/errors.js';
import { carryHint, compileExpr, NO_TIME, timeHint } from '../src/operators/expr.js';
import { WindowStage } from '../src/operators/window.js';
import { parseWindowArgs } from '../src/time/windowspec.js';
import { formatDuration, parseDuration } from '../src/time/duration.js';
import { DEFAULT_IDLE_MS } from '../src/time/watermark.js';

/** Repeatable flags come from cac as a string or an array. */
export function list(v: unknown): string[] {
  if (v === undefined || v === null || v === false) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

const window: CommandSpec = {
  name: 'window',
  args: '<type> [size]',
  summary: 'Assign records to tumbling, hopping, sliding, session or count windows by event time, with watermarks and grace',
  examples: [
    `kstream window tumbling 1m --time r.ts | kstream aggregate count 'avg(r.latency_ms)' --by r.page`,
    `kstream consume clicks + window hopping 5m --every 1m --time r.ts --grace 10s + aggregate count --by r.page`,
    `kstream window session 30m --time r.ts --by r.user + aggregate count 'first(r.page)' 'last(r.page)'`,
    `kstream window sliding 10s --time r.ts --by r.user --late late.ndjson + aggregate 'sum(r.amount)'`,
    `kstream window count 100 --by r.sensor + aggregate 'avg(r.temp)' 'max(r.temp)'`,
  ],
  options: [
    { flags: '--time <expr>', kind: 'expr', description: 'Event time from the record: ms since the epoch or an ISO-8601 string (default: the Kafka record timestamp)' },
    { flags: '--grace <dur>', kind: 'duration', description: 'How far behind stream time a record may be and still count (default 0)' },
    { flags: '--every <dur>', kind: 'duration', description: 'hopping: advance between window starts (at most the size)' },
    { flags: '--offset <dur>', kind: 'duration', description: 'tumbling/hopping: shift the window grid, e.g. 2h for days starting 02:00 UTC' },
    { flags: '--by <expr>', kind: 'list', description: 'Group key; per-key windows (session, sliding, count) default to the Kafka record key. Repeat for a composite key' },
    { flags: '--late <file>', kind: 'file', description: 'Append late records (all their windows closed) to this NDJSON file' },
    { flags: '--idle-flush <dur>', kind: 'duration', description: 'When no record arrives for this long, advance stream time with the wall clock so idle windows close' },
    { flags: '--idle-timeout <dur>', kind: 'duration', description: `Input partitions keep their own stream time; one with nothing waiting for this long stops holding the others back (default ${formatDuration(DEFAULT_IDLE_MS)})` },
    { flags: '--processing-time', description: 'Use the wall clock at ingest as event time (windows close by the clock; nothing is late)' },
    { flags: '--no-partial', description: 'count: leave out incomplete windows at end of input' },
  ],
  stage(args: string[], opts: Opts, ctx) {
    if (opts.time !== undefined && opts.processingTime) throw new UsageError('`--time` and `--processing-time` exclude each other', 'pick one source of time');
    const by = list(opts.by).map((s) => compileExpr(s, '--by expression', ctx.carries, ctx.fused));
    const time = opts.time !== undefined ? compileExpr(String(opts.time), '--time expression', ctx.carries, ctx.fused) : undefined;
    const isCount = String(args[0]).toLowerCase() === 'count';
    const spec = parseWindowArgs(args, {
      every: opts.every,
      offset: opts.offset,
      grace: opts.grace,
      partial: opts.partial,
      time: opts.processingTime ? 'processing' : time ? time.source : 'ts',
      by: by.length ? by.map((e) => e.source).join(', ') : ['session', 'sliding', 'count'].includes(String(args[0]).toLowerCase()) ? 'key' : null,
    });
    if (isCount && (opts.idleFlush !== undefined || opts.processingTime || opts.grace !== undefined)) {
      throw new UsageError('count windows have no time: `--grace`, `--idle-flush` and `--processing-time` do not apply', 'a count window closes at its N-th record');
    }
    // No silent switch of clocks (docs/semantics.md, Time): records from a pipe have no timestamp to fall back on.
    if (!isCount && !time && !opts.processingTime && !ctx.carries.ts) throw new UsageError(NO_TIME('window', ctx.carries), timeHint(ctx.fused));
    const perKey = ['session', 'sliding', 'count'].includes(String(args[0]).toLowerCase());
    if (perKey && by.length === 0 && !ctx.carries.key) {
      throw new UsageError(`\`window ${String(args[0]).toLowerCase()}\` is per record key, and ${ctx.carries.what ?? 'records read from a pipe'} have none`, `name the key with --by r.<field>, or ${carryHint(ctx.fused)}`);
    }
    const idleFlushMs = opts.idleFlush !== undefined ? parseDuration(opts.idleFlush, '--idle-flush') : undefined;
    const idleTimeoutMs = opts.idleTimeout !== undefined ? parseDuration(opts.idleTimeout, '--idle-timeout') : undefined;
    let onLate: ((rec: Rec) => void) | undefined;
    let onEnd: (() => void) | undefined;
    if (opts.late !== undefined && opts.late !== true) {
      const path = String(opts.late);
      let fd: number | undefined;
      onLate = (rec) => {
        try {
          fd ??= fs.openSync(path, 'a');
          fs.writeSync(fd, encodeValue(rec) + '\n');
        } catch (e) {
          throw new RuntimeError(`cannot write late records to \`${path}\`: ${(e as Error).message}`);
        }
      };
      onEnd = () => {
        if (fd !== undefined) fs.closeSync(fd);
        fd = undefined;
      };
    }
    return new WindowStage({
      spec,
      time,
      processingTime: !!opts.processingTime,
      by,
      idleFlushMs,
      idleTimeoutMs,
      partitioned: ctx.fused && ctx.carries.partitions === true,
      timeErrors: ctx.errors('window'),
      keyErrors: ctx.errors('window'),
      onLate,
      onEnd,
      dropControl: opts.watermarks === false,
    });
  },
};

export default window;
