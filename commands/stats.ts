import process from 'node:process';
import type { CommandSpec } from '../src/pipeline/command.js';
import { compileExpr } from '../src/operators/expr.js';
import { UsageError } from '../src/pipeline/errors.js';
import { parseDuration } from '../src/time/duration.js';
import { StatsStage } from '../src/report/stats.js';
import { colorLevel } from '../src/report/table.js';
import { wallNow } from '../src/runtime.js';

const stats: CommandSpec = {
  name: 'stats',
  args: '',
  summary: 'Throughput and HDR percentiles (p50 … p99.99) of a stream, of numeric fields, and of latency from a record time',
  examples: [
    'kstream gen --count 100000 | kstream stats --field r.latency_ms',
    'kstream gen --rate 5000 --duration 10s | kstream stats --latency-from r.ts --every 1s',
    'kstream consume clicks --exit + stats --latency-from r.ts --json',
    'kstream consume clicks + stats --latency-from r.ts --tee + stats --latency-from r.ts --warmup 1s',
    'kstream consume clicks + stats --tee --every 5s + produce clicks-copy',
  ],
  options: [
    { flags: '--field <expr>', kind: 'list', description: 'Summarise a numeric expression over r (repeatable); non-numbers are counted, not failed' },
    { flags: '--latency-from <expr>', kind: 'expr', description: 'Summarise latency = now − <expr> in ms; <expr> gives epoch ms or an ISO time' },
    { flags: '--every <dur>', kind: 'duration', description: 'Also print one interval line per period of processing time (1s, 10s)' },
    { flags: '--warmup <dur>', kind: 'duration', description: 'Leave the records of the first <dur> after the first record out of the percentiles (still counted): steady state without start-up' },
    { flags: '--json', description: 'Report as JSON (one object; with --every one per interval, then the total)' },
    { flags: '--tee', description: 'Pass records through unchanged and write the report to stderr instead of stdout' },
  ],
  stage(_args, opts, ctx) {
    const raw = opts.field === undefined ? [] : Array.isArray(opts.field) ? opts.field : [opts.field];
    const fields = raw.map((s: unknown) => compileExpr(String(s), '--field expression', ctx.carries, ctx.fused));
    const latencyFrom = opts.latencyFrom === undefined ? undefined : compileExpr(String(opts.latencyFrom), '--latency-from expression', ctx.carries, ctx.fused);
    let everyMs: number | undefined;
    if (opts.every !== undefined) {
      everyMs = parseDuration(opts.every, '--every');
      if (!(everyMs > 0)) throw new UsageError(`invalid --every \`${opts.every}\``, 'use a period such as 1s or 500ms');
    }
    let warmupMs: number | undefined;
    if (opts.warmup !== undefined) {
      warmupMs = parseDuration(opts.warmup, '--warmup');
      if (!(warmupMs >= 0)) throw new UsageError(`invalid --warmup \`${opts.warmup}\``, 'use a duration such as 1s or 500ms');
    }
    const tee = !!opts.tee;
    // The report is the product on stdout; with --tee stdout carries the records, so the report moves to stderr.
    const stream = tee ? process.stderr : process.stdout;
    return new StatsStage({
      fields,
      latencyFrom,
      json: !!opts.json,
      everyMs,
      warmupMs,
      tee,
      write: (text) => void stream.write(text),
      clock: wallNow,
      color: colorLevel(stream),
    });
  },
};

export default stats;
