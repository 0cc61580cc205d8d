import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { compileExpr } from '../src/operators/expr.js';
import { AggregateStage, type EmitMode } from '../src/operators/aggregate.js';
import { buildPlan, parseAggCalls } from '../src/operators/aggfns.js';
import { FUNCTIONS } from '../src/operators/aggregate/functions/index.js';
import { list } from './window.js';

const aggregate: CommandSpec = {
  name: 'aggregate',
  args: '<fn...>',
  summary: `${FUNCTIONS.map((f) => f.name).join(' ')} per window and key (after \`window\`), or rolling per key`,
  examples: [
    `kstream window tumbling 1m --time r.ts | kstream aggregate count 'avg(r.latency_ms)' 'p99(r.latency_ms) as p99' --by r.page`,
    `kstream window session 30m --time r.ts --by r.user + aggregate count 'distinct(r.page)' --emit update`,
    `kstream aggregate count 'sum(r.amount)' --by r.customer --emit end < orders.ndjson`,
    `kstream window hopping 1h --every 5m --time r.ts + aggregate 'topk(r.page, 3) as top'`,
  ],
  options: [
    { flags: '--by <expr>', kind: 'list', description: 'Group key (repeat for a composite key); after session, sliding or count windows put it on `window` instead' },
    { flags: '--materialize <topic>', description: 'Also keep every result as a row of a queryable table: a compacted topic (made when missing) that `kstream lookup <topic> <key>` and `table` read; needs --by' },
    { flags: '--emit <mode>', kind: 'enum', choices: ['final', 'update', 'end'], description: 'final: one result per window when it closes (windowed default) | update: after every change (rolling default) | end: rolling, one result per key at end of input' },
  ],
  stage(args: string[], opts: Opts, ctx) {
    const plan = buildPlan(parseAggCalls(args));
    const emit = opts.emit === undefined ? undefined : String(opts.emit);
    if (emit !== undefined && emit !== 'final' && emit !== 'update' && emit !== 'end') {
      throw new UsageError(`invalid --emit \`${emit}\``, 'use final, update or end');
    }
    let table;
    if (opts.materialize !== undefined) {
      if (!list(opts.by).length) throw new UsageError('--materialize needs --by: the table\'s rows are keyed by the group key', 'add --by <expr>, e.g. --by r.page');
      if (!ctx.run.materialize) throw new UsageError('--materialize writes to Kafka, which this run does not reach', 'run it as a command of its own (kstream … + aggregate … --materialize <topic>), not inside bench --pipeline');
      table = ctx.run.materialize(String(opts.materialize));
    }
    return new AggregateStage({
      table,
      plan,
      args: plan.args.map((a) => compileExpr(a, 'aggregate argument', ctx.carries, ctx.fused)),
      by: list(opts.by).map((s) => compileExpr(s, '--by expression', ctx.carries, ctx.fused)),
      emit: emit as EmitMode | undefined,
      errors: ctx.errors('aggregate'),
      dropControl: opts.watermarks === false,
    });
  },
};

export default aggregate;
