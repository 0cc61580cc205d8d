import type { InputGroup, SourceRef } from '../pipeline/record.js';

/** How long the source may have nothing of a partition waiting before it stops holding the others back (--idle-timeout). */
export const DEFAULT_IDLE_MS = 5000;

/** One input partition's own stream time, and since when (wall clock) the source has had nothing of it waiting. */
interface Part {
  st: number;
  quietSince: number | undefined;
}

/**
 * Stream time and watermark of one operator instance (docs/semantics.md "Time").
 *
 * Stream time (ST) is the largest event time seen; out-of-order records never lower it, and one ST serves all
 * keys. The watermark is ST − grace: a window closes when the watermark passes its close point. Before the first
 * record both are −∞; at end of input they become +∞.
 *
 * Several input partitions (records whose source names an InputGroup, as a Kafka source's do): each partition
 * keeps its own ST, and the operator's is the least of them over the partitions that are not idle. A partition is
 * idle when the source has had no record of it for the pipeline (`waiting` false) for the idle timeout, so a
 * partition not seen yet holds the others back while it has records to come, and a stalled pipeline makes no
 * partition idle. So a topic whose partitions are read at different speeds (one fetch holds minutes of one
 * partition's event time before the next partition's records come) does not make in-order records late. The
 * operator's ST still never goes back.
 *
 * Idle flush: when a long-running source goes quiet, ST advances with the wall clock — by the wall time elapsed
 * since the last record, once that exceeds the idle threshold — so idle windows close instead of waiting for the
 * next record. A record that later arrives behind the advanced ST is late, as it would be after any ST advance.
 */
export class StreamTime {
  st = -Infinity;
  private lastArrivalWall: number | undefined;
  private stAtArrival = -Infinity;

  private readonly parts = new Map<SourceRef, Part>();
  /**
   * The partition records last came from, at which wall time, and the least ST of the other partitions that are
   * not idle then: neither changes while records of that partition follow in one batch, so each costs O(1).
   */
  private lastSrc: SourceRef | undefined;
  private lastNow = NaN;
  private lastPart: Part = { st: -Infinity, quietSince: undefined };
  private othersLow = Infinity;

  constructor(readonly grace: number, private readonly idleMs = DEFAULT_IDLE_MS) {}

  get watermark(): number {
    return this.st - this.grace;
  }

  /** Observes an event time; returns true when the watermark moved. */
  observe(t: number): boolean {
    if (t > this.st) {
      this.st = t;
      return true;
    }
    return false;
  }

  /**
   * Observes an event time of a record from `src`, one of the partitions of `group` (two or more), at wall time
   * `now` (one clock read per batch); returns true when the watermark moved. Kept apart from observe(), which stays
   * small enough to inline in the window stage's loop.
   */
  observeIn(t: number, src: SourceRef, group: InputGroup, now: number): boolean {
    if (src !== this.lastSrc || now !== this.lastNow) this.select(src, group, now);
    const p = this.lastPart;
    if (t <= p.st) return false;
    p.st = t;
    const low = t < this.othersLow ? t : this.othersLow;
    if (low <= this.st) return false;
    this.st = low;
    return true;
  }

  /**
   * After a batch, or on a clock tick: the least ST over the partitions again, as partitions go idle with the wall
   * clock; true when the watermark moved.
   */
  recheck(group: InputGroup, now: number): boolean {
    let low = Infinity;
    for (const m of group.members) {
      const q = this.part(m);
      if (!this.isIdle(group, m, q, now) && q.st < low) low = q.st;
    }
    if (low === Infinity || low <= this.st) return false;
    this.st = low;
    return true;
  }

  /** Records of `src` follow: its own ST, and the least of the others' that are not idle (a partition delivering is not). */
  private select(src: SourceRef, group: InputGroup, now: number): void {
    this.lastSrc = src;
    this.lastNow = now;
    this.lastPart = this.part(src);
    let low = Infinity;
    for (const m of group.members) {
      if (m === src) continue;
      const q = this.part(m);
      // a partition not seen yet with records still to come holds the others at −∞
      if (!this.isIdle(group, m, q, now) && q.st < low) low = q.st;
    }
    this.othersLow = low;
  }

  private part(src: SourceRef): Part {
    let p = this.parts.get(src);
    if (p === undefined) this.parts.set(src, (p = { st: -Infinity, quietSince: undefined }));
    return p;
  }

  private isIdle(group: InputGroup, m: SourceRef, q: Part, now: number): boolean {
    if (group.waiting(m)) {
      q.quietSince = undefined;
      return false;
    }
    q.quietSince ??= now;
    return now - q.quietSince >= this.idleMs;
  }

  /** Notes that records arrived at wall time `now` (once per batch is enough). */
  arrived(now: number): void {
    this.lastArrivalWall = now;
    this.stAtArrival = this.st;
  }

  /** Advances ST by the idle time once the input has been quiet for `idleMs`; true when the watermark moved. */
  idle(now: number, idleMs: number): boolean {
    if (this.lastArrivalWall === undefined || this.stAtArrival === -Infinity) return false;
    const quiet = now - this.lastArrivalWall;
    if (quiet < idleMs) return false;
    return this.observe(this.stAtArrival + quiet);
  }

  end(): void {
    this.st = Infinity;
  }
}
