/**
 * The `stats` stage: throughput and HDR percentiles of a stream, of numeric fields, and of latency now − <time>.
 *
 * It is a Stage so it composes both ways (`... | kstream stats`, `... + stats --tee + produce x`). Being synchronous
 * it does not print through the pipeline: the report text goes to an injected `write` (the command passes stdout,
 * or stderr under --tee), interval lines as periods pass (checked per batch and on ticks), the summary from end().
 *
 * Time is processing time from an injected clock (epoch ms): duration is first → last record seen, and latency is
 * measured once per batch (`now` of the batch minus each record's time) — a batch is processed in well under a
 * millisecond, and one clock read per batch keeps the per-record cost to the expression and the histogram.
 */
import type { Rec } from '../pipeline/record.js';
import { mergeNeeds, type FieldNeeds, type Stage } from '../pipeline/stage.js';
import { evalExpr, type Expr } from '../operators/expr.js';
import { Hdr, round3, type HdrSummary } from './hdr.js';
import { group, paint, percentileTable, type ColorLevel, type PercentileRow } from './table.js';

export interface StatsConfig {
  /** Numeric fields to summarise (`--field`, repeatable). */
  fields: Expr[];
  /** `--latency-from`: epoch ms or ISO time per record; latency = now − that. */
  latencyFrom?: Expr;
  json: boolean;
  /** `--every`: interval lines per period of processing time. */
  everyMs?: number;
  /**
   * `--warmup`: records of the first this many ms of processing time (from the first record) are counted but left
   * out of the percentiles — a process's start-up (its JIT, its connections, a backlog it drains) is not its
   * steady state, and a latency report often needs to say both (run two stats fused, one with --tee).
   */
  warmupMs?: number;
  /** Pass records through (report to stderr) instead of consuming them. */
  tee: boolean;
  /** Where report text goes (complete lines). */
  write: (text: string) => void;
  /** Epoch ms. */
  clock: () => number;
  color: ColorLevel;
}

export type FieldSummary = HdrSummary & { non_numeric: number };
export type LatencySummary = HdrSummary & { from: string; non_numeric: number };

export interface StatsReport {
  count: number;
  duration_ms: number;
  /** Records per second over the duration; null when all records arrived at one instant. */
  rate: number | null;
  fields?: Record<string, FieldSummary>;
  latency_ms?: LatencySummary;
  /** With --warmup: its length and the records in it (in `count`, not in the percentiles). */
  warmup?: { ms: number; count: number };
}

export interface IntervalReport {
  interval: number;
  /** End of the interval, ms after the first record. */
  elapsed_ms: number;
  count: number;
  rate: number | null;
  fields?: Record<string, FieldSummary>;
  latency_ms?: LatencySummary;
}

/** One measured quantity: an interval histogram (when --every) folded into the total at each interval's end. */
class Measure {
  readonly total = new Hdr();
  readonly cur: Hdr;
  /** Non-numeric values: overall, and in the current interval. */
  nonNumeric = 0;
  curNonNumeric = 0;

  constructor(readonly expr: Expr, intervals: boolean) {
    this.cur = intervals ? new Hdr() : this.total;
  }

  bad(): void {
    this.nonNumeric++;
    this.curNonNumeric++;
  }

  /** Fold the current interval into the total. */
  roll(): void {
    if (this.cur !== this.total) {
      this.total.add(this.cur);
      this.cur.reset();
    }
    this.curNonNumeric = 0;
  }

  /** Everything so far, including the open interval, without disturbing it. */
  overall(): HdrSummary {
    if (this.cur === this.total || this.cur.count + this.cur.negative + this.cur.tooLarge === 0) return this.total.summary();
    const h = new Hdr();
    h.add(this.total);
    h.add(this.cur);
    return h.summary();
  }
}

export class StatsStage implements Stage {
  readonly name = 'stats';
  readonly reads: FieldNeeds;
  readonly keepsValue = true;
  private readonly fields: Measure[];
  private readonly latency: Measure | undefined;
  private count = 0;
  private warmupCount = 0;
  private first: number | undefined;
  private last: number | undefined;
  // --every bookkeeping
  private intervalCount = 0;
  private intervalStart = 0;
  private nextAt = Infinity;
  private intervals = 0;
  private ended = false;

  constructor(private readonly cfg: StatsConfig) {
    const every = cfg.everyMs !== undefined;
    this.fields = cfg.fields.map((e) => new Measure(e, every));
    this.latency = cfg.latencyFrom ? new Measure(cfg.latencyFrom, every) : undefined;
    let reads: FieldNeeds = 'none';
    for (const e of [...cfg.fields, ...(cfg.latencyFrom ? [cfg.latencyFrom] : [])]) reads = mergeNeeds(reads, e.needs);
    this.reads = reads;
  }

  process(batch: Rec[], out: Rec[]): void {
    const now = this.cfg.clock();
    this.checkInterval(now);
    const warmup = this.cfg.warmupMs;
    const warming = warmup !== undefined && warmup > 0 && (this.first === undefined || now - this.first < warmup);
    // during the warm-up only the count runs: the same loop with nothing to measure
    const fields = warming ? [] : this.fields;
    const lat = warming ? undefined : this.latency;
    let n = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      if (r.ctl !== undefined) continue;
      n++;
      for (let f = 0; f < fields.length; f++) {
        const m = fields[f];
        const v = tryEval(m.expr, r);
        if (typeof v === 'number' && Number.isFinite(v)) m.cur.record(v);
        else m.bad();
      }
      if (lat) {
        const t = toEpochMs(tryEval(lat.expr, r));
        if (t === undefined) lat.bad();
        else lat.cur.record(now - t);
      }
    }
    if (n > 0) {
      if (this.first === undefined) {
        this.first = now;
        this.intervalStart = now;
        if (this.cfg.everyMs !== undefined) this.nextAt = now + this.cfg.everyMs;
      }
      this.last = now;
      this.count += n;
      if (warming) this.warmupCount += n;
      this.intervalCount += n;
    }
    if (this.cfg.tee) for (let i = 0; i < batch.length; i++) out.push(batch[i]);
  }

  tick(now: number, _out: Rec[]): void {
    this.checkInterval(now);
  }

  end(_out: Rec[]): void {
    if (this.ended) return;
    this.ended = true;
    if (this.cfg.everyMs !== undefined && this.intervalCount > 0) {
      this.emitInterval(Math.max(this.last ?? this.intervalStart, this.intervalStart));
    }
    const rep = this.report();
    this.cfg.write(this.cfg.json ? JSON.stringify(rep) + '\n' : this.formatReport(rep));
  }

  /** The totals so far (what end() prints); usable by bench and tests at any time. */
  report(): StatsReport {
    const duration = this.first === undefined ? 0 : this.last! - this.first;
    const rep: StatsReport = { count: this.count, duration_ms: round3(duration), rate: duration > 0 ? round3((this.count * 1000) / duration) : null };
    if (this.fields.length) {
      rep.fields = {};
      for (const m of this.fields) rep.fields[m.expr.source] = { ...m.overall(), non_numeric: m.nonNumeric };
    }
    if (this.latency) rep.latency_ms = { from: this.latency.expr.source, ...this.latency.overall(), non_numeric: this.latency.nonNumeric };
    if (this.cfg.warmupMs !== undefined) rep.warmup = { ms: this.cfg.warmupMs, count: this.warmupCount };
    return rep;
  }

  counters(): Record<string, number> {
    return {};
  }

  private all(): Measure[] {
    return this.latency ? [...this.fields, this.latency] : this.fields;
  }

  private checkInterval(now: number): void {
    const every = this.cfg.everyMs;
    if (every === undefined || now < this.nextAt) return;
    // Several periods may have passed without a batch or tick: one line covers them all, ending on a boundary.
    const periods = Math.floor((now - this.nextAt) / every);
    this.emitInterval(this.nextAt + periods * every);
  }

  private emitInterval(end: number): void {
    const span = end - this.intervalStart;
    const rep: IntervalReport = {
      interval: ++this.intervals,
      elapsed_ms: round3(end - (this.first ?? end)),
      count: this.intervalCount,
      rate: span > 0 ? round3((this.intervalCount * 1000) / span) : null,
    };
    if (this.fields.length) {
      rep.fields = {};
      for (const m of this.fields) rep.fields[m.expr.source] = { ...m.cur.summary(), non_numeric: m.curNonNumeric };
    }
    if (this.latency) {
      const m = this.latency;
      rep.latency_ms = { from: m.expr.source, ...m.cur.summary(), non_numeric: m.curNonNumeric };
    }
    this.cfg.write(this.cfg.json ? JSON.stringify(rep) + '\n' : this.formatInterval(rep));
    for (const m of this.all()) m.roll();
    this.intervalCount = 0;
    this.intervalStart = end;
    this.nextAt = end + this.cfg.everyMs!;
  }

  private formatInterval(rep: IntervalReport): string {
    const c = paint(this.cfg.color);
    const parts = [c.dim(`+${secs(rep.elapsed_ms)}`), `${group(rep.count)} rec`, rep.rate === null ? '-/s' : `${group(Math.round(rep.rate))}/s`];
    const brief = (label: string, s: HdrSummary, unit = ''): string =>
      s.count === 0 ? `${label} -` : `${label} p50 ${s.p50}${unit} p99 ${s.p99}${unit} max ${s.max}${unit}`;
    for (const [src, s] of Object.entries(rep.fields ?? {})) parts.push(brief(c.cyan(src), s));
    if (rep.latency_ms) parts.push(brief(c.cyan('latency'), rep.latency_ms, ' ms'));
    return parts.join('  ') + '\n';
  }

  private formatReport(rep: StatsReport): string {
    const c = paint(this.cfg.color);
    let text = `${c.bold(group(rep.count))} records in ${secs(rep.duration_ms)}` + (rep.rate === null ? '' : ` (${group(Math.round(rep.rate))} records/s)`) + '\n';
    if (rep.warmup) text += c.dim(`percentiles leave out the first ${secs(rep.warmup.ms)} (--warmup): ${group(rep.warmup.count)} ${rep.warmup.count === 1 ? 'record' : 'records'}`) + '\n';
    const rows: PercentileRow[] = [];
    const notes: string[] = [];
    for (const [src, s] of Object.entries(rep.fields ?? {})) {
      rows.push({ label: src, summary: s });
      notes.push(...problems(src, s));
    }
    if (rep.latency_ms) {
      const label = `latency ms (now − ${rep.latency_ms.from})`;
      rows.push({ label, summary: rep.latency_ms });
      notes.push(...problems(label, rep.latency_ms, ' (timestamps ahead of this clock)'));
    }
    if (rows.length) text += percentileTable(rows, c) + '\n';
    for (const n of notes) text += c.yellow(n) + '\n';
    return text;
  }
}

function problems(label: string, s: HdrSummary & { non_numeric: number }, negativeWhy = ''): string[] {
  const out: string[] = [];
  if (s.non_numeric) out.push(`${label}: ${group(s.non_numeric)} non-numeric or missing, not counted`);
  if (s.negative) out.push(`${label}: ${group(s.negative)} negative${negativeWhy}, not in the percentiles`);
  if (s.too_large) out.push(`${label}: ${group(s.too_large)} too large to record`);
  return out;
}

function secs(ms: number): string {
  return `${round3(ms / 1000)} s`;
}

function tryEval(e: Expr, r: Rec): unknown {
  try {
    return evalExpr(e, r);
  } catch {
    // A record without the field (r.a.b on a missing a) counts as non-numeric, like a missing value.
    return undefined;
  }
}

/** A record's time as epoch ms: a number as is, a numeric string, an ISO string, or a Date. */
export function toEpochMs(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return undefined;
    const n = /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : Date.parse(s);
    return Number.isFinite(n) ? n : undefined;
  }
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}
