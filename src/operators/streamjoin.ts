/**
 * The windowed stream–stream join of two inputs, without I/O (SEMANTICS.md "Tables and joins"): the stream (left,
 * `l`) and the side (right, `r`). commands/join.ts builds it behind StreamJoinStage (streamjoin-stage.ts), which
 * reads the side; tests drive it directly.
 *
 * **Two inputs, one time.** Records are queued per input as they arrive and taken in event-time order across the
 * two: the head of one queue is taken once the other input has shown a record at or past its time (queued or
 * taken), or has ended (reached the end offsets seen at start), or is idle (`--max-idle`, told by the caller). At
 * equal times the left record goes first, so a right record at t waits for a left record past t. With both heads
 * queued the earlier one goes. So a bounded run takes its records in one order whatever order the two inputs'
 * batches arrive in: for inputs in event-time order that is the merge by (time, left first); for others, each
 * queue keeps its arrival order and the results are the same records (the order of outputs may differ).
 *
 * **Join.** A record taken at time t with join key k matches every record of the other input held with key k whose
 * time lies in its window: `tl − before ≤ tr ≤ tl + after`, both ends inclusive. One output per pair, at time
 * max(tl, tr), in the order the held records were taken. Stream time ST is the largest time taken; the watermark
 * W = ST − grace. A record behind the watermark (t < W) is late: dropped and counted. A left record is held while
 * W ≤ tl + after (a right record that could still match it, tr ≤ tl + after, is not late until then), a right one
 * while W ≤ tr + before; once the watermark passes that point it is released, and if it never matched and its
 * side is kept unmatched (`--left`: left, `--outer`: both) it goes out then, alone, at its own time — never a result
 * that a later match would contradict, because every record that could have matched it would now be late. At end
 * of input ST is +∞: everything queued is taken and every held record released.
 *
 * A record without a join key (null) never matches: kept unmatched sides emit it when it is taken, others drop it
 * (`no-key`).
 */
export type Side = 'l' | 'r';

/** A record given to the join: its event time, join key (null: none) and whatever the caller needs back. */
export interface JoinItem<T> {
  t: number;
  key: string | null;
  data: T;
  /** The caller's name for the record, for checkpoints (onChange). */
  id?: string;
}

export interface StreamJoinOptions {
  /** `tl − before ≤ tr ≤ tl + after` (ms). */
  beforeMs: number;
  afterMs: number;
  graceMs: number;
  /** Emit left records that matched nothing (`--left`, `--outer`). */
  keepLeft: boolean;
  /** Emit right records that matched nothing (`--outer`). */
  keepRight: boolean;
  /** Receives each late record (`--late <file>`). */
  onLate?: (side: Side, data: unknown) => void;
  /**
   * Told of every change of a record's place in the join, for a checkpoint: queued, held (taken; with whether it
   * matched and its order of taking), or gone (released, late, or taken without a key).
   */
  onChange?: (side: Side, item: JoinItem<unknown>, state: 'queued' | 'held' | 'gone', matched: boolean, seq: number) => void;
}

/** What a checkpoint saves of the join besides its records: stream time, how far each input has shown, the order. */
export interface JoinClock {
  st: number;
  shownL: number;
  shownR: number;
  seq: number;
}

/** What the join hands back: a pair (both set), or an unmatched record (the other null), at time `t`. */
export type Emit<L, R> = (l: JoinItem<L> | null, r: JoinItem<R> | null, t: number) => void;

interface Held<T> {
  /** When the record is released: the watermark passing this (`tl + after`, `tr + before`). */
  at: number;
  seq: number;
  item: JoinItem<T>;
  matched: boolean;
}

/** A FIFO of records not taken yet (an array with a moving head: no shift per record). */
class Queue<T> {
  items: JoinItem<T>[] = [];
  head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  peek(): JoinItem<T> | undefined {
    return this.items[this.head];
  }
  take(): JoinItem<T> {
    const x = this.items[this.head];
    this.items[this.head++] = undefined as unknown as JoinItem<T>;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

/** Held records by release point, then by the order they were taken (a binary heap). */
class ReleaseQueue<T> {
  private h: Held<T>[] = [];
  /** The smallest release point, Infinity when empty. */
  get next(): number {
    return this.h.length > 0 ? this.h[0].at : Infinity;
  }
  get nextSeq(): number {
    return this.h.length > 0 ? this.h[0].seq : Infinity;
  }
  private static less<T>(a: Held<T>, b: Held<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  push(x: Held<T>): void {
    const h = this.h;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!ReleaseQueue.less(x, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = x;
  }
  pop(): Held<T> {
    const h = this.h;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && ReleaseQueue.less(h[r], h[l]) ? r : l;
        if (!ReleaseQueue.less(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

export class StreamJoin<L, R> {
  /** Stream time: the largest time taken. */
  st = -Infinity;
  private readonly queued = { l: new Queue<L>(), r: new Queue<R>() };
  /** The largest time each input has shown (queued or taken). */
  private readonly shown = { l: -Infinity, r: -Infinity };
  private readonly ended = { l: false, r: false };
  private readonly idle = { l: false, r: false };
  /** Held records per side: join key → records in the order taken. */
  private readonly held = { l: new Map<string, Held<L>[]>(), r: new Map<string, Held<R>[]>() };
  private readonly release = { l: new ReleaseQueue<L>(), r: new ReleaseQueue<R>() };
  private seq = 0;
  private heldCount = 0;
  /** Counters: pairs emitted, unmatched records emitted, late records per side, records without a key dropped. */
  readonly counts = { matched: 0, unmatched: 0, lateLeft: 0, lateRight: 0, noKey: 0 };

  constructor(private readonly o: StreamJoinOptions) {}

  get watermark(): number {
    return this.st - this.o.graceMs;
  }

  /** Records held for matching (bounded by the window and grace), for metrics and tests. */
  get size(): number {
    return this.heldCount;
  }

  /** Records queued, waiting for the other input. */
  get waiting(): number {
    return this.queued.l.length + this.queued.r.length;
  }

  /** Side records queued (the stage stops reading its side while there are many). */
  waitingRight(): number {
    return this.queued.r.length;
  }

  /** A record of one input, queued until it may be taken (`drain`). */
  push(side: Side, item: JoinItem<L> | JoinItem<R>): void {
    (this.queued[side] as Queue<unknown>).items.push(item as JoinItem<unknown>);
    if (item.t > this.shown[side]) this.shown[side] = item.t;
    this.o.onChange?.(side, item as JoinItem<unknown>, 'queued', false, -1);
  }

  /** Stream time, the inputs' progress and the order of taking, for a checkpoint. */
  get clock(): JoinClock {
    return { st: this.st, shownL: this.shown.l, shownR: this.shown.r, seq: this.seq };
  }

  /**
   * Restores a checkpoint: its clock, then its records — queued ones in their order with `push`, held ones here in
   * the order they were taken (`seq`).
   */
  restoreClock(c: JoinClock): void {
    this.st = c.st;
    this.shown.l = Math.max(this.shown.l, c.shownL);
    this.shown.r = Math.max(this.shown.r, c.shownR);
    this.seq = Math.max(this.seq, c.seq);
  }

  restoreHeld(side: Side, item: JoinItem<L> | JoinItem<R>, matched: boolean, seq: number): void {
    const held: Held<unknown> = { at: item.t + (side === 'l' ? this.o.afterMs : this.o.beforeMs), seq, item: item as JoinItem<unknown>, matched };
    const map = this.held[side] as unknown as Map<string, Held<unknown>[]>;
    const list = map.get(item.key as string);
    if (list === undefined) map.set(item.key as string, [held]);
    else list.push(held);
    (this.release[side] as unknown as ReleaseQueue<unknown>).push(held);
    this.heldCount++;
    if (seq >= this.seq) this.seq = seq + 1;
  }

  /** The input has ended (reached the end offsets seen at start): it holds the other back no more. */
  end(side: Side): void {
    this.ended[side] = true;
  }

  /** Whether the input has been idle for `--max-idle`: while it is, it holds the other back no more. */
  setIdle(side: Side, idle: boolean): void {
    this.idle[side] = idle;
  }

  /** Takes every queued record that may be taken now, in order, emitting what results. */
  drain(emit: Emit<L, R>): void {
    for (;;) {
      const side = this.next();
      if (side === undefined) return;
      if (side === 'l') this.take('l', this.queued.l.take(), emit);
      else this.take('r', this.queued.r.take(), emit);
    }
  }

  /** End of both inputs: every queued record is taken, stream time becomes +∞ and every held record is released. */
  finish(emit: Emit<L, R>): void {
    this.ended.l = this.ended.r = true;
    this.drain(emit);
    this.st = Infinity;
    this.expire(emit);
  }

  /** The input whose head is to be taken next, if one may be. */
  private next(): Side | undefined {
    const l = this.queued.l.peek();
    const r = this.queued.r.peek();
    if (l !== undefined && r !== undefined) return l.t <= r.t ? 'l' : 'r';
    if (l !== undefined) return this.ended.r || this.idle.r || this.shown.r >= l.t ? 'l' : undefined;
    if (r !== undefined) return this.ended.l || this.idle.l || this.shown.l > r.t ? 'r' : undefined;
    return undefined;
  }

  private take<T>(side: Side, item: JoinItem<T>, emit: Emit<L, R>): void {
    const t = item.t;
    if (t < this.watermark) {
      if (side === 'l') this.counts.lateLeft++;
      else this.counts.lateRight++;
      this.o.onLate?.(side, item.data);
      this.o.onChange?.(side, item as JoinItem<unknown>, 'gone', false, -1);
      return;
    }
    if (t > this.st) {
      this.st = t;
      this.expire(emit);
    }
    const keep = side === 'l' ? this.o.keepLeft : this.o.keepRight;
    if (item.key === null) {
      if (keep) this.alone(side, item, emit);
      else this.counts.noKey++;
      this.o.onChange?.(side, item as JoinItem<unknown>, 'gone', false, -1);
      return;
    }
    // the other side's records with this key, in the order taken; those released are gone from the list
    const other = side === 'l' ? this.held.r.get(item.key) : this.held.l.get(item.key);
    let matched = false;
    if (other !== undefined) {
      // for a left record: tr in [t − before, t + after]; for a right one: tl in [t − after, t + before]
      const lo = side === 'l' ? t - this.o.beforeMs : t - this.o.afterMs;
      const hi = side === 'l' ? t + this.o.afterMs : t + this.o.beforeMs;
      for (const h of other) {
        const u = h.item.t;
        if (u < lo || u > hi) continue;
        matched = true;
        if (!h.matched) {
          h.matched = true;
          this.o.onChange?.(side === 'l' ? 'r' : 'l', h.item as JoinItem<unknown>, 'held', true, h.seq);
        }
        this.counts.matched++;
        if (side === 'l') emit(item as unknown as JoinItem<L>, h.item as unknown as JoinItem<R>, t > u ? t : u);
        else emit(h.item as unknown as JoinItem<L>, item as unknown as JoinItem<R>, t > u ? t : u);
      }
    }
    const held: Held<T> = { at: t + (side === 'l' ? this.o.afterMs : this.o.beforeMs), seq: this.seq++, item, matched };
    const map = this.held[side] as unknown as Map<string, Held<T>[]>;
    const list = map.get(item.key);
    if (list === undefined) map.set(item.key, [held]);
    else list.push(held);
    (this.release[side] as unknown as ReleaseQueue<T>).push(held);
    this.heldCount++;
    this.o.onChange?.(side, item as JoinItem<unknown>, 'held', matched, held.seq);
  }

  /** Releases the held records the watermark has passed, emitting kept unmatched ones; left before right at one point. */
  private expire(emit: Emit<L, R>): void {
    // released when W > at, times being whole ms: at ≤ W − 1 (at end of input W is +∞)
    const limit = this.watermark === Infinity ? Infinity : this.watermark - 1;
    const lq = this.release.l;
    const rq = this.release.r;
    for (;;) {
      const ln = lq.next;
      const rn = rq.next;
      // (empty queues say Infinity, which a limit of +∞ at end of input does not exceed)
      if ((ln > limit || ln === Infinity) && (rn > limit || rn === Infinity)) return;
      // in release-point order across the sides, then in the order taken
      const fromLeft = ln < rn || (ln === rn && lq.nextSeq < rq.nextSeq);
      if (fromLeft) this.drop('l', lq.pop(), emit);
      else this.drop('r', rq.pop(), emit);
    }
  }

  private drop<T>(side: Side, h: Held<T>, emit: Emit<L, R>): void {
    const map = this.held[side] as unknown as Map<string, Held<T>[]>;
    const key = h.item.key as string;
    const list = map.get(key)!;
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) map.delete(key);
    this.heldCount--;
    this.o.onChange?.(side, h.item as JoinItem<unknown>, 'gone', h.matched, h.seq);
    if (!h.matched && (side === 'l' ? this.o.keepLeft : this.o.keepRight)) this.alone(side, h.item, emit);
  }

  private alone<T>(side: Side, item: JoinItem<T>, emit: Emit<L, R>): void {
    this.counts.unmatched++;
    if (side === 'l') emit(item as unknown as JoinItem<L>, null, item.t);
    else emit(null, item as unknown as JoinItem<R>, item.t);
  }
}
