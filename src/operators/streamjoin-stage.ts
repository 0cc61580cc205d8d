import { encodeValue, Rec, WATERMARK } from '../pipeline/record.js';
import { RuntimeError } from '../pipeline/errors.js';
import { errorCounters, type RecordErrors } from '../pipeline/onerror.js';
import { mergeNeeds, type FieldNeeds, type PartMetrics, type SideInput, type SideRow, type Stage } from '../pipeline/stage.js';
import { exprFailure, type Expr } from './expr.js';
import type { Select } from './join.js';
import { decodeText, keyText } from './table.js';
import { StreamJoin, type Emit, type JoinItem } from './streamjoin.js';
import { invalidReason, toEventTime } from '../time/eventtime.js';

/** A side record as the join holds it. */
interface SideRec {
  /** Its record key as text (null: none): `okey`, and the key of an unmatched side record's output. */
  key: string | null;
  value: unknown;
  /** Its event time. */
  t: number;
  /** Where it was read, for errors: `stream:payments record 12`. */
  n: number;
}

export interface StreamJoinStageOptions {
  side: SideInput;
  /** The join key of a stream record (`--on`; default the record key). */
  on: Expr;
  /** The join key of a side record (`--right-on`, over its value); default its record key. */
  rightOn?: Expr;
  /** The stream record's event time (`--time`); default its record timestamp. */
  time?: Expr;
  /** The side record's event time (`--side-time`, over its value); default its record timestamp. */
  sideTime?: Expr;
  beforeMs: number;
  afterMs: number;
  graceMs: number;
  mode: 'inner' | 'left' | 'outer';
  /** The field the other record's value goes into when there is no --select. */
  as: string;
  select?: Select;
  /** `--max-idle`: an input that has delivered nothing for this long holds the other back no more. */
  maxIdleMs?: number;
  /** Wall clock (injectable for tests). */
  clock?: () => number;
  /** Bad stream and side records (an expression that threw, a value --as cannot extend). */
  errors: RecordErrors;
  /** Records with an invalid event time (counted as invalid-time). */
  timeErrors: RecordErrors;
  /** `--late <file>`: receives each late record as a line (the command appends it to the file). */
  onLate?: (line: string) => void;
  /** Called at the end and at close (the command closes the --late file). */
  onEnd?: () => void;
}

/** Side records queued beyond this wait for the stream before more are read (the side's fetches pause). */
const SIDE_QUEUE_MAX = 50_000;

/**
 * `join stream:<topic>` and `join stream:file:<path>`: the windowed stream–stream join (operators/streamjoin.ts)
 * between the records of the run (the left input) and a side input the stage reads itself, so it works piped and
 * fused alike. `open` starts reading the side; its records queue in the join and are taken, with the stream's, in
 * event-time order — in `process` (a stream batch), `tick` (side records that came meanwhile, `--max-idle`) and at
 * the end. Before the end the runner lets the side reach the end offsets seen at start (`settle`), so a bounded run
 * joins both inputs whole.
 *
 * Output: `{...r, <as>: o}` or `--select` over r, o, key, okey, ts, ots, at max(tl, tr); an unmatched stream
 * record with o = null at its own time; an unmatched side record (`--outer`) with r = null, keyed by its own key.
 */
export class StreamJoinStage implements Stage {
  readonly name = 'join';
  readonly keepsValue = false;
  readonly reads: FieldNeeds;
  readonly tick: (now: number, out: Rec[]) => void;
  /** Records wait in the stage across batches, and no checkpoint saves them: a run that commits offsets is refused. */
  readonly holds: string;
  readonly join: StreamJoin<Rec, SideRec>;
  private pump: Promise<void> | undefined;
  private failure: unknown;
  private closed = false;
  private caughtUp = false;
  private settling = false;
  private sideEnded = false;
  /** Wakes `settle` when the side catches up, ends or fails. */
  private wakeSettle: (() => void) | undefined;
  /** Resumes reading the side once the join has taken some of it. */
  private room: (() => void) | undefined;
  private readonly clock: () => number;
  private lastLeft: number;
  private lastRight: number;
  private nullValues = 0;
  private sideNullValues = 0;
  private sideRead = 0;
  private readonly member: string;
  private readonly quoted: string;
  private readonly emitTo: (out: Rec[]) => Emit<Rec, SideRec>;

  constructor(private readonly o: StreamJoinStageOptions) {
    let reads: FieldNeeds = o.select ? mergeNeeds(o.on.needs, o.select.needs) : 'all';
    if (o.time) reads = mergeNeeds(reads, o.time.needs);
    this.reads = reads;
    this.holds = `\`join ${o.side.name}\``;
    this.join = new StreamJoin<Rec, SideRec>({
      beforeMs: o.beforeMs,
      afterMs: o.afterMs,
      graceMs: o.graceMs,
      keepLeft: o.mode !== 'inner',
      keepRight: o.mode === 'outer',
      onLate: o.onLate === undefined ? undefined : (side, data) => this.late(side, data as Rec | SideRec),
    });
    this.clock = o.clock ?? Date.now;
    this.lastLeft = this.lastRight = this.clock();
    this.member = `${JSON.stringify(o.as)}:`;
    this.quoted = JSON.stringify(o.as);
    this.tick = (now, out) => this.onTick(now, out);
    this.emitTo = (out) => (l, r, t) => this.output(l, r, t, out);
  }

  async open(): Promise<void> {
    let started!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => ((started = res), (failed = rej)));
    let first = true;
    this.pump = (async () => {
      try {
        for await (const { rows, caughtUp } of this.o.side.batches()) {
          if (this.closed) break;
          for (const row of rows) this.sideRecord(row);
          if (rows.length) this.lastRight = this.clock();
          if (caughtUp && !this.caughtUp) {
            // the end offsets seen at start: the side holds the stream back no more
            this.caughtUp = true;
            this.join.end('r');
            this.wakeSettle?.();
          }
          if (first) {
            first = false;
            started();
          }
          if (!this.settling && this.join.waitingRight() > SIDE_QUEUE_MAX) await new Promise<void>((r) => (this.room = r));
        }
        this.sideEnded = true;
        this.join.end('r');
        if (first) started();
      } catch (e) {
        if (this.closed) return;
        this.failure = e;
        failed(e);
      } finally {
        this.wakeSettle?.();
      }
    })();
    // the side is open (a missing topic or file fails here, before the first stream record)
    await ready;
  }

  /** One side row into the join's right queue; a tombstone is no record (null values are ignored). */
  private sideRecord(row: SideRow): void {
    const n = ++this.sideRead;
    const value = row.lazy ? decodeText(row.value as string) : row.value;
    if (value === null) {
      this.sideNullValues++;
      return;
    }
    const where = () => `${this.o.side.name} record ${n}`;
    const { sideTime, rightOn } = this.o;
    let raw: unknown = row.ts;
    if (sideTime) {
      try {
        raw = sideTime.fn(value, row.key, row.ts, undefined);
      } catch (err) {
        this.o.timeErrors.handle(where(), `invalid event time: ${exprFailure(sideTime, err)}`, value);
        return;
      }
    }
    const t = toEventTime(raw);
    if (t < 0) {
      this.o.timeErrors.handle(where(), `invalid event time (${invalidReason(t)})${sideTime ? ` from --side-time \`${sideTime.source}\`` : ''}`, value, sideTime ? 'fix the record or the --side-time expression' : 'give the side\'s event time with --side-time <expr>');
      return;
    }
    let key: string | null = row.key;
    if (rightOn) {
      try {
        key = keyText(rightOn.fn(value, row.key, row.ts, undefined));
      } catch (err) {
        this.o.errors.handle(where(), exprFailure(rightOn, err), value);
        return;
      }
    }
    this.join.push('r', { t, key, data: { key: row.key, value, t, n } });
  }

  process(batch: Rec[], out: Rec[]): void {
    this.check();
    const { on, time, errors, timeErrors, select } = this.o;
    let data = false;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) {
        // the input's watermarks say nothing of the join's output times; other controls pass
        if (rec.ctl !== WATERMARK) out.push(rec);
        continue;
      }
      data = true;
      const r = rec.partial && this.reads === 'all' ? rec.fullValue() : rec.value;
      if (r === null) {
        this.nullValues++;
        continue;
      }
      if (!select && (typeof r !== 'object' || Array.isArray(r))) {
        errors.handle(rec.where(), `the stream value is ${Array.isArray(r) ? 'an array' : `a ${typeof r}`}, not an object to add \`${this.o.as}\` to`, rec.raw ?? rec.value, `build the output with --select, e.g. --select '({value: r, ${this.o.as}: o})'`);
        continue;
      }
      let raw: unknown = rec.ts;
      if (time) {
        try {
          raw = time.fn(r, rec.key, rec.ts, rec.headers);
        } catch (err) {
          timeErrors.handle(rec.where(), `invalid event time: ${exprFailure(time, err)}`, rec.raw ?? rec.value);
          continue;
        }
      }
      const t = toEventTime(raw);
      if (t < 0) {
        timeErrors.handle(rec.where(), `invalid event time (${invalidReason(t)})${time ? ` from --time \`${time.source}\`` : ''}`, rec.raw ?? rec.value, time ? 'fix the record or the --time expression' : 'give the event time with --time <expr>');
        continue;
      }
      let key: string | null;
      try {
        key = keyText(on.fn(r, rec.key, rec.ts, rec.headers));
      } catch (err) {
        errors.handle(rec.where(), exprFailure(on, err), rec.raw ?? rec.value);
        continue;
      }
      // held across batches: its own text, not a view into the batch's chunk
      void rec.raw;
      this.join.push('l', { t, key, data: rec });
    }
    if (data) this.lastLeft = this.clock();
    this.drain(out);
  }

  private onTick(now: number, out: Rec[]): void {
    this.check();
    const idle = this.o.maxIdleMs;
    if (idle !== undefined) {
      this.join.setIdle('l', now - this.lastLeft >= idle);
      this.join.setIdle('r', now - this.lastRight >= idle);
    }
    this.drain(out);
  }

  private drain(out: Rec[]): void {
    this.join.drain(this.emitTo(out));
    if (this.room && this.join.waitingRight() <= SIDE_QUEUE_MAX / 2) {
      const r = this.room;
      this.room = undefined;
      r();
    }
  }

  private check(): void {
    if (this.failure !== undefined) {
      const e = this.failure;
      throw e instanceof RuntimeError ? e : new RuntimeError(`join: ${this.o.side.name}: ${(e as Error).message ?? e}`, 'the side stopped; check the broker and the topic, then restart');
    }
  }

  /** Before the end of input: the side is read to the end offsets seen at start (all of it, for a file). */
  async settle(): Promise<void> {
    this.settling = true;
    this.room?.();
    this.room = undefined;
    while (!this.caughtUp && !this.sideEnded && this.failure === undefined && this.pump !== undefined) {
      await new Promise<void>((r) => (this.wakeSettle = r));
      this.wakeSettle = undefined;
    }
  }

  end(out: Rec[]): void {
    this.check();
    this.join.finish(this.emitTo(out));
    this.o.onEnd?.();
  }

  /** One result of the join as a record: a pair, or a record alone. */
  private output(li: JoinItem<Rec> | null, si: JoinItem<SideRec> | null, t: number, out: Rec[]): void {
    const { select } = this.o;
    const l = li === null ? null : li.data;
    const s = si === null ? null : si.data;
    const o = s === null ? null : s.value;
    let rec: Rec;
    if (l === null) {
      // an unmatched side record (--outer): keyed and timed by itself
      const side = s as SideRec;
      let v: unknown;
      if (select) {
        try {
          v = select.fn(null, o, null, side.key, undefined, side.t);
        } catch (err) {
          this.o.errors.handle(`${this.o.side.name} record ${side.n}`, `--select \`${select.source}\` failed: ${(err as Error).message ?? err}`, o);
          return;
        }
      } else v = { [this.o.as]: o };
      rec = new Rec(v === undefined ? null : v, undefined, false, side.n);
      rec.key = side.key;
    } else {
      const r = l.partial ? l.fullValue() : l.value;
      if (select) {
        let v: unknown;
        try {
          v = select.fn(r, o, l.key, s === null ? null : s.key, li!.t, s?.t);
        } catch (err) {
          this.o.errors.handle(l.where(), `--select \`${select.source}\` failed: ${(err as Error).message ?? err}`, l.raw ?? l.value);
          return;
        }
        rec = l.derive(v === undefined ? null : v);
      } else {
        rec = l.derive({ ...(r as object), [this.o.as]: o });
        // `{...r, <as>: o}` as text: the record's own text with the member added at its end (its numbers as written)
        const text = l.raw;
        const end = text === undefined || text.indexOf(this.quoted) >= 0 ? -1 : text.lastIndexOf('}');
        if (end >= 0) {
          let p = end - 1;
          for (let c = text!.charCodeAt(p); p >= 0 && (c === 32 || c === 9 || c === 10 || c === 13); c = text!.charCodeAt(--p));
          rec.raw = text!.slice(0, end) + (text!.charCodeAt(p) === 123 ? '' : ',') + this.member + JSON.stringify(o) + text!.slice(end);
        }
      }
    }
    rec.ts = t;
    out.push(rec);
  }

  /** A late record (`--late <file>`): a stream record as it came, a side record as {key, value, timestamp}. */
  private late(side: 'l' | 'r', data: Rec | SideRec): void {
    const d = data as SideRec;
    this.o.onLate!(side === 'l' ? encodeValue(data as Rec) : JSON.stringify({ key: d.key, value: d.value, timestamp: d.t }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.o.onEnd?.();
    this.room?.();
    await this.o.side.close().catch(() => undefined);
    await this.pump;
  }

  counters(): Record<string, number> {
    const j = this.join.counts;
    const c: Record<string, number> = { matched: j.matched, ...errorCounters(this.o.errors) };
    if (this.o.mode !== 'inner') c.unmatched = j.unmatched;
    c.late = j.lateLeft + j.lateRight;
    if (this.o.timeErrors.count) c['invalid-time'] = this.o.timeErrors.count;
    if (j.noKey) c['no-key'] = j.noKey;
    if (this.nullValues) c['null-value'] = this.nullValues;
    if (this.sideNullValues) c['side-null-value'] = this.sideNullValues;
    return c;
  }

  metrics(): PartMetrics {
    return { stateEntries: this.join.size + this.join.waiting };
  }
}
