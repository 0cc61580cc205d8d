/**
 * The generator's command-line flags → GenSourceOptions. Shared by `gen` and `bench`, so both read
 * `--rate 20k --duration 30s --seed 7` identically.
 */
import fs from 'node:fs';
import { UsageError } from '../pipeline/errors.js';
import { parseCount, parseDuration, parseRate } from '../time/duration.js';
import { presetNames } from './presets.js';
import type { GenSourceOptions } from './source.js';
import type { OptionSpec, Opts } from '../pipeline/command.js';

export const GEN_OPTIONS: OptionSpec[] = [
  { flags: '--preset <name>', description: `Record shape: ${presetNames().join(', ')} (default clicks)` },
  { flags: '--template <json>', kind: 'string', description: 'JSON with {{seq}} {{ts}} {{now}} {{uuid}} {{int lo hi}} {{float lo hi dec}} {{pick a b}} {{zipf n s}} {{bool p}}; @file reads a file' },
  { flags: '-n, --count <n>', kind: 'count', description: 'Stop after n records (10000, 10k)' },
  { flags: '--duration <dur>', kind: 'duration', description: 'Stop after this long (30s, 5m); with --rate: after rate × duration records' },
  { flags: '--rate <n/s>', kind: 'rate', description: 'Constant rate in records/s (20000, 20k); default: as fast as the consumer takes them' },
  { flags: '--seed <seed>', description: 'Random seed, number or string (default 1); same seed and flags = same output' },
  { flags: '--start <time>', description: 'Event time of the first record: ISO, epoch ms or now (default 2026-01-01T00:00:00Z)' },
  { flags: '--event-rate <n/s>', kind: 'rate', description: 'Event-time records per second: ts = start + seq × 1000 / event-rate (default 1000)' },
  { flags: '--disorder <dur>', kind: 'duration', description: 'Move each ts back by a seeded random 0..dur, so event time arrives out of order' },
];

/**
 * With --rate and neither --start nor --event-rate, ts is each record's intended send time (wall clock), so that
 * `stats --latency-from r.ts` downstream measures from when the record should have left.
 */
export function parseGenOptions(opts: Opts, readFile: (path: string) => string = (p) => fs.readFileSync(p, 'utf8')): GenSourceOptions {
  const out: GenSourceOptions = {};
  if (opts.template !== undefined) {
    if (opts.preset !== undefined) throw new UsageError('`--preset` and `--template` both given', 'use one of them');
    const t = String(opts.template);
    if (t.startsWith('@')) {
      try {
        out.template = readFile(t.slice(1));
      } catch (e) {
        throw new UsageError(`cannot read template file \`${t.slice(1)}\`: ${(e as Error).message}`, 'write --template @path/to/template.json');
      }
    } else {
      out.template = t;
    }
  } else {
    out.preset = opts.preset === undefined ? 'clicks' : String(opts.preset);
  }
  if (opts.count !== undefined) {
    const n = parseCount(opts.count, '--count');
    if (!Number.isInteger(n)) throw new UsageError(`invalid --count \`${opts.count}\``, 'use a whole number such as 1000 or 10k');
    out.count = n;
  }
  if (opts.duration !== undefined) out.durationMs = parseDuration(opts.duration, '--duration');
  if (opts.rate !== undefined) {
    const r = parseRate(opts.rate, '--rate');
    if (!(r > 0)) throw new UsageError(`invalid --rate \`${opts.rate}\``, 'use a positive rate such as 20000 or 20k');
    out.rate = r;
  }
  if (opts.seed !== undefined) out.seed = typeof opts.seed === 'number' ? opts.seed : String(opts.seed);
  if (opts.start !== undefined) out.start = parseStart(opts.start);
  if (opts.eventRate !== undefined) {
    const r = parseRate(opts.eventRate, '--event-rate');
    if (!(r > 0)) throw new UsageError(`invalid --event-rate \`${opts.eventRate}\``, 'use a positive rate such as 1000 or 1k');
    out.eventRate = r;
  }
  if (opts.disorder !== undefined) out.disorder = parseDuration(opts.disorder, '--disorder');
  out.scheduleTs = out.rate !== undefined && out.start === undefined && out.eventRate === undefined;
  return out;
}

/** `--start`: ISO date-time, epoch ms, or `now`. */
export function parseStart(v: unknown, wallNow: () => number = Date.now): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  const s = String(v).trim();
  if (s === 'now') return Math.floor(wallNow());
  if (/^-?\d+$/.test(s)) return Number(s);
  // Date.parse accepts many odd formats; require something that starts like an ISO date.
  const t = /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`invalid --start \`${s}\``, 'use an ISO time (2026-01-01T00:00:00Z), epoch ms, or now');
  return t;
}
