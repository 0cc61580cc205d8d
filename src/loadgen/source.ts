/**
 * `gen` as a pipeline Source: generator + optional pacer + stop conditions, yielding `Rec[]` batches.
 *
 * Each record carries both its value object (for fused stages) and its NDJSON line in `raw` (for sinks that write
 * bytes), so neither side serialises or parses.
 */
import { Rec, type SourceRef } from '../pipeline/record.js';
import type { Source } from '../pipeline/stage.js';
import { RecordGenerator, type GeneratorOptions } from './generator.js';
import { Pacer, Schedule, systemClock, type PaceClock } from './rate.js';

export interface GenSourceOptions extends GeneratorOptions {
  /** Stop after this many records. */
  count?: number;
  /** Stop after this long: with `rate`, after the records scheduled in that span (exact count); else wall clock. */
  durationMs?: number;
  /** Records per second; absent = as fast as the consumer takes them. */
  rate?: number;
  /** With `rate`: ts = each record's intended send time (wall clock) instead of the start/eventRate line. */
  scheduleTs?: boolean;
  /** Records per batch when not paced, and the most released at once when paced. Default 2048. */
  batchSize?: number;
  clock?: PaceClock;
}

const REF: SourceRef = { name: 'gen', where: (pos) => `gen record ${pos}` };

export class GenSource implements Source {
  readonly name = 'gen';
  readonly carries = { key: false, ts: false, headers: false, what: 'records made by `gen`' };
  readonly generator: RecordGenerator;
  private pacer: Pacer | undefined;
  private readonly abort = new AbortController();
  private readonly clock: PaceClock;

  constructor(private readonly opts: GenSourceOptions) {
    this.clock = opts.clock ?? systemClock;
    this.generator = new RecordGenerator({ ...opts, wallNow: opts.wallNow ?? (() => this.clock.wallNow()) });
  }

  /** Records still to produce under --count and, when paced, --duration. */
  private limit(): number {
    const { count, durationMs, rate } = this.opts;
    let limit = count ?? Infinity;
    if (rate !== undefined && durationMs !== undefined) limit = Math.min(limit, Math.ceil((durationMs * rate) / 1000));
    return limit;
  }

  async *batches(): AsyncGenerator<Rec[]> {
    const gen = this.generator;
    const limit = this.limit();
    const size = this.opts.batchSize ?? 2048;
    const signal = this.abort.signal;
    const clock = this.clock;
    const rate = this.opts.rate;

    if (rate === undefined) {
      const t0 = clock.now();
      const until = this.opts.durationMs;
      while (gen.seq < limit && !signal.aborted) {
        if (until !== undefined && clock.now() - t0 >= until) break;
        yield toRecs(gen, Math.min(size, limit - gen.seq));
      }
      return;
    }

    // Start the schedule on a whole millisecond of wall time, so intended send times are whole ms as well and
    // `ts` (when it is the send time) never runs ahead of the true intended time.
    const wall = clock.wallNow();
    const start = Math.ceil(wall);
    const t0 = clock.now() + (start - wall);
    if (this.opts.scheduleTs) gen.setTimeline(start, rate);
    const pacer = (this.pacer = new Pacer(new Schedule(rate), clock, t0));
    while (gen.seq < limit) {
      const n = await pacer.due(gen.seq, Math.min(size, limit - gen.seq), signal);
      if (n === 0 || signal.aborted) break;
      yield toRecs(gen, n);
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
  }

  /** Records generated so far. */
  get generated(): number {
    return this.generator.seq;
  }

  /** Reported at exit when non-zero: only a paced run that fell behind has anything to say. */
  counters(): Record<string, number> {
    const p = this.pacer;
    if (!p || p.late === 0) return {};
    return { behind_schedule: p.late, max_behind_ms: Math.round(p.maxBehindMs) };
  }
}

function toRecs(gen: RecordGenerator, n: number): Rec[] {
  const { firstSeq, lines, values } = gen.nextBatch(n);
  const out = new Array<Rec>(n);
  for (let i = 0; i < n; i++) out[i] = new Rec(values ? values[i] : JSON.parse(lines[i]), lines[i], false, firstSeq + i, REF);
  return out;
}
