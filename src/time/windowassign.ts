import { MinQueue } from './windowqueue.js';

/**
 * Window assignment for the `window` stage: which windows a record at event time t belongs to, given the
 * watermark W (ST − grace). Assigners keep window *bounds* only (never records, never aggregates); the aggregate
 * stage keeps one accumulator per (window, key) and follows what the assigner decided, so the two agree by
 * construction, in one process or across a pipe.
 *
 * `closeDue(W)` releases the bounds of windows the watermark has closed and says whether any closed, which is
 * when the window stage writes a `$watermark` line.
 */

/** One entry of a record's `@windows` tag. `from`/`add` only appear on sliding windows (see SlidingAssigner). */
export interface WinRef {
  start: number;
  end: number;
  /** A new window seeded with a copy of this existing window's aggregate (taken before this record). */
  from?: { start: number; end: number };
  /** false: the window is created (seeded) by this record but does not contain it. */
  add?: false;
}

interface EndMark { at: number }

/** A record's windows as one shared list, with its JSON text (a record's text is built from it when asked). */
export type WinList = readonly WinRef[] & { readonly json?: string };

function frozenList(wins: WinRef[]): WinList {
  Object.defineProperty(wins, 'json', { value: JSON.stringify(wins) });
  return Object.freeze(wins);
}

/**
 * Tumbling and hopping windows: `[start, start + size)` for every start = offset + k·advance with
 * start <= t < start + size and start >= 0 (no windows below 0, as in Kafka Streams). Closed once W >= end.
 *
 * Every record of a window gets the same frozen list object: the window stage attaches it to records as is,
 * and `aggregate` in the same process recognises a window by it without building anything per record.
 */
export class GridAssigner {
  private readonly ends = new MinQueue<EndMark>();
  /** Open windows by start. */
  private readonly refs = new Map<number, WinRef>();
  /** Lists by their latest start (a list is stale once its earliest window closed; rebuilt on next use). */
  private readonly lists = new Map<number, WinList>();
  private last: WinList | undefined;
  private lastTop = NaN;
  /** Bumped whenever a window opens or closes: the window stage checkpoints the open starts when it moved. */
  version = 0;

  constructor(readonly size: number, readonly advance: number, readonly offset: number) {}

  /** Starts of the open windows, ascending (state for the changelog). */
  openStarts(): number[] {
    return [...this.refs.keys()].sort((a, b) => a - b);
  }

  /** Reopens windows from openStarts() of an earlier run. */
  restore(starts: readonly number[]): void {
    for (const s of starts) {
      if (!Number.isFinite(s) || this.refs.has(s)) continue;
      this.refs.set(s, Object.freeze({ start: s, end: s + this.size }));
      this.ends.push({ at: s + this.size });
    }
  }

  /**
   * t's open windows, ascending by start: an empty list when all of them closed (late), undefined when t lies
   * before the first window of an offset grid (it has no window at all).
   */
  windowsOf(t: number, w: number): WinList | undefined {
    const { size, advance, offset } = this;
    const top = offset + Math.floor((t - offset) / advance) * advance;
    if (top < 0) return undefined;
    // Open windows are the latest-starting ones (end > w); count down from the latest.
    let low = top + advance;
    for (let s = top; s > t - size && s >= 0 && s + size > w; s -= advance) low = s;
    if (low > top) return EMPTY;
    // Most records fall in the window of the record before them.
    const last = this.last;
    if (last !== undefined && top === this.lastTop && last[0].start === low) return last;
    const cached = this.lists.get(top);
    if (cached !== undefined && cached[0].start === low) {
      this.lastTop = top;
      return (this.last = cached);
    }
    const wins: WinRef[] = [];
    for (let s = low; s <= top; s += advance) {
      let ref = this.refs.get(s);
      if (ref === undefined) {
        ref = Object.freeze({ start: s, end: s + size });
        this.refs.set(s, ref);
        this.ends.push({ at: s + size });
        this.version++;
      }
      wins.push(ref);
    }
    const list = frozenList(wins);
    this.lists.set(top, list);
    this.lastTop = top;
    return (this.last = list);
  }

  closeDue(w: number): boolean {
    if (w < this.ends.next) return false;
    let any = false;
    for (let e = this.ends.popDue(w); e; e = this.ends.popDue(w)) {
      const start = e.at - this.size;
      this.refs.delete(start);
      this.lists.delete(start);
      if (start === this.lastTop) this.last = undefined;
      any = true;
    }
    if (any) this.version++;
    return any;
  }

  /** End of input: every window was closed downstream. */
  clear(): void {
    this.refs.clear();
    this.lists.clear();
    this.ends.clear();
    this.last = undefined;
    this.lastTop = NaN;
    this.version++;
  }

  /** Distinct open windows held (for tests). */
  get openWindows(): number {
    return this.refs.size;
  }
}

const EMPTY: WinList = frozenList([]);

interface Session {
  at: number;
  keyId: string;
  start: number;
  end: number;
  dead: boolean;
}

/**
 * Session windows per key: a record at t joins every open session of its key with end >= t − gap and
 * start <= t + gap (exactly gap apart still merges), and they become one session. Closed once
 * W >= end + gap + 1. Closed sessions are final and released at once, so a record near a closed session starts
 * a new one (Flink behaves so; Kafka Streams could still merge it while the session sits in its store).
 */
export class SessionAssigner {
  private readonly keys = new Map<string, Session[]>();
  private readonly queue = new MinQueue<Session>();
  private live = 0;
  /** Keys whose sessions changed since the last checkpoint; only kept once the stage is checkpointed. */
  touched: Set<string> | undefined;

  constructor(readonly gap: number) {}

  /** A key's open sessions as [start, end] pairs (state for the changelog), null when it has none. */
  snapshot(keyId: string): [number, number][] | null {
    const list = this.keys.get(keyId);
    return list ? list.map((x) => [x.start, x.end]) : null;
  }

  restoreKey(keyId: string, sessions: readonly [number, number][]): void {
    const list: Session[] = [];
    for (const [start, end] of sessions) {
      const sess: Session = { at: end + this.gap + 1, keyId, start, end, dead: false };
      list.push(sess);
      this.queue.push(sess);
      this.live++;
    }
    if (list.length) this.keys.set(keyId, list.sort((a, b) => a.start - b.start));
  }

  /**
   * The session t belongs to after merging, and the sessions it replaced (bounds differ from the result);
   * undefined when t is late (it joins no open session and its own session would already be closed).
   */
  assign(keyId: string, t: number, w: number): { win: WinRef; merged: WinRef[] | undefined } | undefined {
    const gap = this.gap;
    this.touched?.add(keyId);
    let list = this.keys.get(keyId);
    let start = t;
    let end = t;
    let hits: Session[] | undefined;
    if (list) {
      for (const s of list) {
        if (s.end >= t - gap && s.start <= t + gap) {
          (hits ??= []).push(s);
          if (s.start < start) start = s.start;
          if (s.end > end) end = s.end;
        }
      }
    }
    if (!hits && w >= t + gap + 1) return undefined;
    let merged: WinRef[] | undefined;
    if (hits) {
      if (hits.length === 1 && hits[0].start === start && hits[0].end === end) {
        return { win: { start, end }, merged: undefined };
      }
      for (const s of hits) {
        s.dead = true;
        this.live--;
        if (s.start !== start || s.end !== end) (merged ??= []).push({ start: s.start, end: s.end });
      }
      list = list!.filter((s) => !s.dead);
    }
    const sess: Session = { at: end + gap + 1, keyId, start, end, dead: false };
    if (!list) list = [];
    // Kept in start order, so merged sessions are listed (and retracted) in that order.
    let k = list.length;
    while (k > 0 && list[k - 1].start > start) k--;
    list.splice(k, 0, sess);
    this.keys.set(keyId, list);
    this.queue.push(sess);
    this.live++;
    return { win: { start, end }, merged };
  }

  closeDue(w: number): boolean {
    let any = false;
    for (let s = this.queue.popDue(w); s; s = this.queue.popDue(w)) {
      if (s.dead) continue;
      any = true;
      s.dead = true;
      this.live--;
      this.touched?.add(s.keyId);
      const list = this.keys.get(s.keyId)!;
      const rest = list.filter((x) => x !== s);
      if (rest.length) this.keys.set(s.keyId, rest);
      else this.keys.delete(s.keyId);
    }
    return any;
  }

  /** End of input: every session was closed downstream. */
  clear(): void {
    for (const k of this.keys.keys()) this.touched?.add(k);
    this.keys.clear();
    this.queue.clear();
    this.live = 0;
  }

  /** Open sessions held (for tests: state is released when sessions close). */
  get size(): number {
    return this.live;
  }
}

interface SlideWin {
  at: number;
  keyId: string;
  start: number;
  /** Largest record time in the window (Kafka Streams keeps the same as the window's timestamp). */
  maxTs: number;
  closed: boolean;
}

/**
 * Sliding windows (Kafka Streams KIP-450), per key: windows are defined by records — `[t−D, t]` for each record,
 * plus `[t+1, t+1+D]` when a record lies in `(t, t+D]` — and never empty. A record updates every open window
 * that contains it and creates its missing windows; a new window's aggregate is built, as in KS, from an
 * existing window's aggregate: the record's left window `[t−D, t]` from the window holding exactly the records
 * in `[t−D, t)`, its right window `[t+1, t+1+D]` from the latest-starting window that contains t (before t is
 * added). So the aggregate keeps one accumulator per window and never the records; the price is that a closed
 * window stays in state while it can still seed a new one (windowspec.ts: slidingReleaseAt). Records at t < D
 * share the window `[0, D]`.
 *
 * The steps are those of KStreamSlidingWindowAggregate's processInOrder (t >= D) and processEarly (t < D), and
 * the windows are listed in the order those two methods forward them: processInOrder updates the existing
 * windows that contain t by ascending start, then creates the previous record's right window, t's left window
 * and t's right window; processEarly updates the existing windows, then creates t's right window and the
 * previous record's right window, then updates or creates [0, D]. Kafka Streams 3.9 itself does not forward in
 * that order by default: its built-in window stores iterate backwards (KIP-617), so for t >= D it runs
 * processReverse, which updates the existing windows by descending start before creating the same new windows.
 * Same windows, same values, another order. And with record caching on (its default, KIP-63) what KS passes
 * downstream is each window's latest value when the cache flushes, not one update per step (docs/semantics.md,
 * "Where kstream deliberately differs from Kafka Streams 3.9.1"). When the previous record's right window and
 * t's left window are the same window, KS writes and forwards it twice (identical values); here it is one entry.
 *
 * Where tracking windows is not enough (as in KS): an out-of-order record whose own left window is already
 * closed is added only to the existing open windows that contain it. It is kept nowhere else, so a window
 * created later by a newer record (from a seed that never saw it) misses it, although that window was open when
 * the record arrived. Keeping such records would cost memory per record; KS accepts the same loss. With enough
 * grace (every record arriving while its own left window is open) the windows are exactly the KIP-450 ones;
 * Kafka Streams 3.9.1 can still miss a record at exactly t − D there (its store's retention cut, see
 * docs/semantics.md).
 */
export class SlidingAssigner {
  private readonly keys = new Map<string, SlideWin[]>();
  private readonly queue = new MinQueue<SlideWin>();
  private held = 0;
  /** Keys whose windows changed since the last checkpoint; only kept once the stage is checkpointed. */
  touched: Set<string> | undefined;

  constructor(readonly diff: number) {}

  /** A key's windows as [start, maxTs, closed] (state for the changelog), null when it has none. */
  snapshot(keyId: string): [number, number, boolean][] | null {
    const list = this.keys.get(keyId);
    return list ? list.map((x) => [x.start, x.maxTs, x.closed]) : null;
  }

  restoreKey(keyId: string, wins: readonly [number, number, boolean][]): void {
    const D = this.diff;
    const list: SlideWin[] = [];
    for (const [start, maxTs, closed] of wins) {
      const x: SlideWin = { at: closed ? start + 2 * D + 2 : start + D + 1, keyId, start, maxTs, closed };
      list.push(x);
      this.queue.push(x);
      this.held++;
    }
    if (list.length) this.keys.set(keyId, list.sort((a, b) => a.start - b.start));
  }

  /**
   * The windows t updates or creates, in processInOrder / processEarly order (see the class comment; KS's
   * default processReverse lists the updated windows the other way round), or undefined when t is late for all
   * of them (t + 1 + D <= W, the KS expiry check). `added` is false when t went into no window.
   */
  assign(keyId: string, t: number, w: number): { ops: WinRef[]; added: boolean } | undefined {
    const D = this.diff;
    if (t + 1 + D <= w) return undefined;
    this.touched?.add(keyId);
    let list = this.keys.get(keyId);
    if (!list) {
      list = [];
      this.keys.set(keyId, list);
    }
    const ops: WinRef[] = [];
    const created: SlideWin[] = [];
    let added = false;
    const ref = (x: SlideWin) => ({ start: x.start, end: x.start + D });
    const update = (x: SlideWin) => {
      if (x.start + D < w) return; // closed: KS skips it ("expired window")
      ops.push({ start: x.start, end: x.start + D });
      if (t > x.maxTs) x.maxTs = t;
      added = true;
    };
    const create = (start: number, maxTs: number, from: SlideWin | undefined, add: boolean) => {
      const op: WinRef = { start, end: start + D };
      if (from) op.from = ref(from);
      if (!add) op.add = false;
      else added = true;
      ops.push(op);
      created.push({ at: start + D + 1, keyId, start, maxTs, closed: false });
    };

    let i = lowerBound(list, t < D ? 0 : Math.max(0, t - 2 * D));
    let prevTs: number | undefined;
    let rightSrc: SlideWin | undefined;
    let rightMax = 0;
    let rightExists = false;
    if (t < D) {
      // processEarly: [0, D] holds every record below D.
      let combined: SlideWin | undefined;
      for (; i < list.length && list[i].start <= t + 1; i++) {
        const x = list[i];
        if (x.start === 0) {
          combined = x;
          if (x.maxTs < t) prevTs = x.maxTs;
        } else if (x.start <= t) {
          rightSrc = x;
          rightMax = x.maxTs;
          update(x);
        } else if (x.start === t + 1) rightExists = true;
      }
      if (!rightSrc && combined && combined.maxTs > t) {
        rightSrc = combined;
        rightMax = combined.maxTs;
      }
      if (!rightExists && rightSrc && rightMax > t) create(t + 1, rightMax, rightSrc, false);
      if (prevTs !== undefined && !hasStart(list, prevTs + 1) && prevTs + 1 + D >= w) create(prevTs + 1, t, undefined, true);
      if (!combined) {
        if (D >= w) create(0, t, undefined, true);
      } else update(combined);
    } else {
      // processInOrder
      let leftSrc: SlideWin | undefined;
      let leftExists = false;
      for (; i < list.length && list[i].start <= t + 1; i++) {
        const x = list[i];
        const end = x.start + D;
        if (end < t) {
          leftSrc = x;
          prevTs = x.maxTs;
        } else if (end === t) {
          leftExists = true;
          if (x.maxTs < t) prevTs = x.maxTs;
          update(x);
        } else if (x.start <= t) {
          rightSrc = x;
          rightMax = x.maxTs;
          update(x);
        } else if (x.start === t + 1) rightExists = true;
      }
      let prevRight = -1;
      if (prevTs !== undefined) {
        const ps = prevTs + 1;
        if (!hasStart(list, ps) && ps + D >= t && ps + D >= w) {
          create(ps, t, undefined, true);
          prevRight = ps;
        }
      }
      if (!leftExists && t - D !== prevRight && t >= w) {
        const seeded = prevTs !== undefined && t - D <= prevTs;
        create(t - D, t, seeded ? leftSrc : undefined, true);
      }
      if (!rightExists && rightSrc && rightMax > t) create(t + 1, rightMax, rightSrc, false);
    }
    for (const c of created) {
      list.splice(lowerBound(list, c.start), 0, c);
      this.queue.push(c);
      this.held++;
    }
    if (list.length === 0) this.keys.delete(keyId);
    return { ops, added };
  }

  /** Closes windows with W >= end + 1 (true if any), and releases those with W >= end + D + 2. */
  closeDue(w: number): boolean {
    let any = false;
    for (let x = this.queue.popDue(w); x; x = this.queue.popDue(w)) {
      this.touched?.add(x.keyId);
      if (!x.closed) {
        x.closed = true;
        any = true;
        x.at = x.start + 2 * this.diff + 2;
        this.queue.push(x);
        continue;
      }
      const list = this.keys.get(x.keyId)!;
      const k = lowerBound(list, x.start);
      list.splice(k, 1);
      this.held--;
      if (list.length === 0) this.keys.delete(x.keyId);
    }
    return any;
  }

  /** End of input: every window was closed downstream. */
  clear(): void {
    for (const k of this.keys.keys()) this.touched?.add(k);
    this.keys.clear();
    this.queue.clear();
    this.held = 0;
  }

  /** Windows held, open or closed-but-seeding (for tests). */
  get size(): number {
    return this.held;
  }
}

function lowerBound(list: { start: number }[], start: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function hasStart(list: { start: number }[], start: number): boolean {
  const k = lowerBound(list, start);
  return k < list.length && list[k].start === start;
}

/** Count windows per key: the i-th record of a key (arrival order) goes to window ⌊i/N⌋. */
export class CountAssigner {
  private readonly seen = new Map<string, number>();
  /** Keys counted since the last checkpoint; only kept once the stage is checkpointed. */
  touched: Set<string> | undefined;

  constructor(readonly size: number) {}

  /** Records seen of a key (state for the changelog). */
  snapshot(keyId: string): number | null {
    return this.seen.get(keyId) ?? null;
  }

  restoreKey(keyId: string, n: number): void {
    if (Number.isInteger(n) && n > 0) this.seen.set(keyId, n);
  }

  /** End of input: partial windows were emitted downstream; counting starts afresh. */
  clear(): void {
    for (const k of this.seen.keys()) this.touched?.add(k);
    this.seen.clear();
  }

  assign(keyId: string): number {
    this.touched?.add(keyId);
    const i = this.seen.get(keyId) ?? 0;
    this.seen.set(keyId, i + 1);
    return Math.floor(i / this.size);
  }
}
