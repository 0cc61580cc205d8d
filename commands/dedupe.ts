import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { compileExpr, NO_TIME, timeHint } from '../src/operators/expr.js';
import { DedupeStage } from '../src/operators/dedupe.js';
import { parseDuration } from '../src/time/duration.js';
import { list } from './window.js';

const dedupe: CommandSpec = {
  name: 'dedupe',
  args: '',
  summary: 'Drop records whose id was already emitted within an event-time span (first occurrence wins)',
  examples: [
    `kstream dedupe --by r.order_id --within 10m --time r.ts < orders.ndjson`,
    `kstream consume payments --group p + dedupe --by r.payment_id --within 1h + produce payments-unique`,
    `kstream dedupe --by r.user --by r.page --within 30s --time r.ts`,
  ],
  options: [
    { flags: '--by <expr>', kind: 'list', description: 'The id of a record (repeat for a composite id); records whose id is null pass' },
    { flags: '--within <dur>', kind: 'duration', description: 'Span of event time: a record within this of an emitted one with the same id is dropped (inclusive)' },
    { flags: '--time <expr>', kind: 'expr', description: 'Event time from the record: ms since the epoch or an ISO-8601 string (default: the Kafka record timestamp)' },
    { flags: '--processing-time', description: 'Use the wall clock at ingest as event time' },
  ],
  stage(_args: string[], opts: Opts, ctx) {
    const by = list(opts.by).map((s) => compileExpr(s, '--by expression', ctx.carries, ctx.fused));
    if (by.length === 0) throw new UsageError('`dedupe` needs `--by <expr>`', "name the record's id, e.g. --by r.order_id");
    if (opts.within === undefined || opts.within === true) {
      throw new UsageError('`dedupe` needs `--within <dur>`', 'how far apart in event time copies may be, e.g. --within 10m');
    }
    const withinMs = parseDuration(opts.within, '--within');
    if (opts.time !== undefined && opts.processingTime) throw new UsageError('`--time` and `--processing-time` exclude each other', 'pick one source of time');
    const time = opts.time !== undefined ? compileExpr(String(opts.time), '--time expression', ctx.carries, ctx.fused) : undefined;
    if (!time && !opts.processingTime && !ctx.carries.ts) throw new UsageError(NO_TIME('dedupe', ctx.carries), timeHint(ctx.fused));
    return new DedupeStage({
      by,
      withinMs,
      time,
      processingTime: !!opts.processingTime,
      timeErrors: ctx.errors('dedupe'),
      keyErrors: ctx.errors('dedupe'),
    });
  },
};

export default dedupe;
