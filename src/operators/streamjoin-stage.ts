import { encodeValue, Rec, WATERMARK } from '../pipeline/record.js';
import { RuntimeError } from '../pipeline/errors.js';
import { errorCounters, type RecordErrors } from '../pipeline/onerror.js';
import { checkSignature, mergeNeeds, SIG_KEY, type FieldNeeds, type PartMetrics, type SideInput, type SideRow, type StatefulStage } from '../pipeline/stage.js';
import { exprFailure, type Expr } from './expr.js';
import { joinKeyOf, type Select } from './join.js';
import { decodeText, keyText } from './table.js';
import { StreamJoin, type Emit, type JoinItem, type Side } from './streamjoin.js';
import { invalidReason, toEventTime } from '../time/eventtime.js';

/** A side record as the join holds it. */
interface SideRec {
  /** Its record key as text (null: none): `okey`, and the key of an unmatched side record's output. */
  key: string | null;
  value: unknown;
  /** Its event time. */
  t: number;
  /** Where it was read, for errors: `stream:payments record 12`; and the rows of the side up to it. */
  n: number;
  /** A topic's record: its partition and offset (where a restarted run reads the side on). */
  p?: number;
  off?: number;
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
/** A record's change since the last checkpoint (null: gone). */
interface Change {
  side: Side;
  item: JoinItem<unknown>;
  /** The order it was taken in; -1 while it is queued. */
  seq: number;
  matched: boolean;
}

/** A checkpoint's clock entry: the join's times and order, the next record id, the side's position. */
interface SavedClock {
  st: number | null;
  shownL: number | null;
  shownR: number | null;
  seq: number;
  ids: number;
  side: { offsets: Record<string, number>; rows: number };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class StreamJoinStage implements StatefulStage {
  readonly name = 'join';
  readonly keepsValue = false;
  readonly reads: FieldNeeds;
  readonly tick: (now: number, out: Rec[]) => void;
  /** Its side's position is restored with the state, after the side started reading under --exactly-once: refused there. */
  readonly atLeastOnceOnly: string;
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
  // checkpoints (under consume --group): the records changed since the last one, ids, the side's position
  private tracking = false;
  private readonly dirty = new Map<string, Change | null>();
  /** The ids the changelog holds (a record gone before any checkpoint wrote it needs no tombstone). */
  private readonly persisted = new Set<string>();
  private nextId = 0;
  /** The side's position after the records taken from it (what a checkpoint saves), and their latest time. */
  private sideOffsets: Record<string, number> = {};
  private sideRows = 0;
  private sideShown = -Infinity;
  private savedSig = false;
  private readonly signature: string;
  private readonly emitTo: (out: Rec[]) => Emit<Rec, SideRec>;

  constructor(private readonly o: StreamJoinStageOptions) {
    let reads: FieldNeeds = o.select ? mergeNeeds(o.on.needs, o.select.needs) : 'all';
    if (o.time) reads = mergeNeeds(reads, o.time.needs);
    this.reads = reads;
    this.atLeastOnceOnly = `\`join ${o.side.name}\``;
    this.signature = JSON.stringify({
      side: o.side.name,
      before: o.beforeMs,
      after: o.afterMs,
      grace: o.graceMs,
      mode: o.mode,
      on: o.on.source,
      rightOn: o.rightOn?.source ?? null,
      time: o.time?.source ?? null,
      sideTime: o.sideTime?.source ?? null,
    });
    this.join = new StreamJoin<Rec, SideRec>({
      beforeMs: o.beforeMs,
      afterMs: o.afterMs,
      graceMs: o.graceMs,
      keepLeft: o.mode !== 'inner',
      keepRight: o.mode === 'outer',
      onLate: o.onLate === undefined ? undefined : (side, data) => this.late(side, data as Rec | SideRec),
      onChange: (side, item, state, matched, seq) => {
        if (!this.tracking) return;
        if (side === 'r') {
          // side records waiting are not saved: a restarted run reads them again, from the position after the
          // last one taken
          if (state === 'queued') return;
          this.sideTaken(item.data as SideRec);
        }
        this.dirty.set(item.id!, state === 'gone' ? null : { side, item, seq: state === 'held' ? seq : -1, matched });
      },
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
    this.join.push('r', { t, key, data: { key: row.key, value, t, n, p: row.partition, off: row.offset }, id: String(this.nextId++) });
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
      const key = joinKeyOf(on, r, rec, errors);
      if (key === undefined) continue;
      // held across batches: its own text, not a view into the batch's chunk
      void rec.raw;
      this.join.push('l', { t, key, data: rec, id: String(this.nextId++) });
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

  /**
   * The checkpoint (StatefulStage): each record queued or held, under `i:<id>` — its side, time, join key, whether
   * it was taken (its order) and matched, and the record itself (a stream record's text, key, timestamp and
   * headers; a side record's key, value and time) — null once it is gone; and under `$clock` stream time, how far
   * each input has shown, and the side's position (next offset per partition, rows read), where a restarted run
   * reads the side on from.
   */
  drainChanges(): [string, unknown][] {
    const res: [string, unknown][] = [];
    if (!this.savedSig) {
      res.push([SIG_KEY, this.signature]);
      this.savedSig = true;
    }
    for (const [id, c] of this.dirty) {
      if (c !== null) {
        res.push([`i:${id}`, entryOf(c)]);
        this.persisted.add(id);
      } else if (this.persisted.delete(id)) res.push([`i:${id}`, null]);
      // else: queued and gone between two checkpoints, never written
    }
    this.dirty.clear();
    const c = this.join.clock;
    // the side as far as its records were taken: those still waiting are read again after a restart
    const clock: SavedClock = { st: finite(c.st), shownL: finite(c.shownL), shownR: finite(this.sideShown), seq: c.seq, ids: this.nextId, side: { offsets: { ...this.sideOffsets }, rows: this.sideRows } };
    res.push(['$clock', clock]);
    return res;
  }

  restore(entries: Iterable<[string, unknown]>): void {
    const list = [...entries];
    this.savedSig = checkSignature('join', list, this.signature);
    const queued: { side: Side; n: number; item: JoinItem<unknown> }[] = [];
    const held: { side: Side; seq: number; matched: boolean; item: JoinItem<unknown> }[] = [];
    for (const [k, v] of list) {
      if (k === '$clock' && v !== null && typeof v === 'object') {
        const c = v as SavedClock;
        const num = (x: number | null) => (typeof x === 'number' ? x : -Infinity);
        this.join.restoreClock({ st: num(c.st), shownL: num(c.shownL), shownR: num(c.shownR), seq: c.seq });
        this.nextId = Math.max(this.nextId, c.ids);
        this.sideOffsets = { ...c.side.offsets };
        this.sideRead = this.sideRows = c.side.rows;
        this.sideShown = num(c.shownR);
        this.o.side.resumeAt = { offsets: { ...this.sideOffsets }, rows: this.sideRows };
      } else if (k.startsWith('i:') && v !== null && typeof v === 'object') {
        const e = v as SavedEntry;
        const item: JoinItem<unknown> = { t: e.t, key: e.k, data: e.s === 'l' ? recOf(e.d as SavedRec) : e.d, id: k.slice(2) };
        this.persisted.add(item.id!);
        if (e.q < 0) queued.push({ side: e.s, n: Number(k.slice(2)), item });
        else held.push({ side: e.s, seq: e.q, matched: e.m, item });
      }
    }
    // held records in the order they were taken; queued ones in the order they came (their ids)
    held.sort((a, b) => a.seq - b.seq);
    for (const h of held) this.join.restoreHeld(h.side, h.item as JoinItem<never>, h.matched, h.seq);
    queued.sort((a, b) => a.n - b.n);
    for (const q of queued) this.join.push(q.side, q.item as JoinItem<never>);
    // from here every change goes into the next checkpoint
    this.tracking = true;
  }

  /** A side record left the queue (taken, late or without a key): the side's saved position moves past it. */
  private sideTaken(r: SideRec): void {
    if (r.p !== undefined) {
      const k = String(r.p);
      if ((this.sideOffsets[k] ?? 0) < r.off! + 1) this.sideOffsets[k] = r.off! + 1;
    }
    if (r.n > this.sideRows) this.sideRows = r.n;
    if (r.t > this.sideShown) this.sideShown = r.t;
  }

  /** The run stops with its state checkpointed: nothing is flushed, the restarted run goes on from the state. */
  suspend(): void {
    this.o.onEnd?.();
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

/** A checkpointed record. */
interface SavedEntry {
  s: Side;
  t: number;
  k: string | null;
  /** The order it was taken in, -1 while queued. */
  q: number;
  m: boolean;
  d: SavedRec | SideRec;
}

/** A stream record in a checkpoint: its text, key (bytes as base64), timestamp and headers. */
interface SavedRec {
  v: string;
  k: string | { b64: string } | null;
  ts: number | null;
  h: { key: string; value: string | null }[] | null;
}

function entryOf(c: Change): SavedEntry {
  let d: SavedRec | SideRec;
  if (c.side === 'l') {
    const r = c.item.data as Rec;
    const k = r.key;
    d = {
      v: r.raw ?? JSON.stringify(r.value),
      k: k === undefined || k === null ? null : k instanceof Uint8Array ? { b64: Buffer.from(k).toString('base64') } : typeof k === 'string' ? k : JSON.stringify(k),
      ts: r.ts ?? null,
      h: r.headers ?? null,
    };
  } else d = c.item.data as SideRec;
  return { s: c.side, t: c.item.t, k: c.item.key, q: c.seq, m: c.matched, d };
}

/** A stream record again from its checkpoint. */
function recOf(d: SavedRec): Rec {
  const r = new Rec(JSON.parse(d.v), d.v, false, -1);
  r.key = d.k === null ? undefined : typeof d.k === 'string' ? d.k : Buffer.from(d.k.b64, 'base64');
  r.ts = d.ts ?? undefined;
  r.headers = d.h ?? undefined;
  return r;
}
