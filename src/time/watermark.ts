import type { InputGroup, SourceRef } from '../pipeline/record.js';

/** How long an input partition may go without records before it stops holding the others back (--idle-timeout). */
export const DEFAULT_IDLE_MS = 5000;

/** One input partition's own stream time. */
interface Part {
  st: number;
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
  private lastSrc: SourceRef | undefined;
  private lastPart: Part | undefined;
  /** Since when (wall clock) each partition has had nothing waiting, while it has not. */
  private readonly quiet = new Map<SourceRef, number>();

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
   * Observes an event time of a record from `src`, one of an input group's partitions, at wall time `now` (one
   * clock read per batch); returns true when the watermark moved. Kept apart from observe(), which stays small
   * enough to inline in the window stage's loop.
   */
  observeIn(t: number, src: SourceRef, now: number): boolean {
    const group = src.group;
    if (group === undefined || group.members.length < 2) return this.observe(t);
    const p = src === this.lastSrc ? this.lastPart! : this.part(src);
    if (t <= p.st) return false;
    // only a partition at the operator's ST can be what holds it there
    const low = p.st <= this.st;
    p.st = t;
    return low ? this.advance(group, now) : false;
  }

  /**
   * After a batch: the least ST over the partitions again, as partitions go idle with the wall clock; true when
   * the watermark moved.
   */
  recheck(src: SourceRef | undefined, now: number): boolean {
    const group = src?.group;
    return group !== undefined && group.members.length >= 2 ? this.advance(group, now) : false;
  }

  private part(src: SourceRef): Part {
    let p = this.parts.get(src);
    if (p === undefined) this.parts.set(src, (p = { st: -Infinity }));
    this.lastSrc = src;
    this.lastPart = p;
    return p;
  }

  private advance(group: InputGroup, now: number): boolean {
    let low = Infinity;
    for (const m of group.members) {
      if (this.isIdle(group, m, now)) continue;
      const q = this.parts.get(m);
      // a partition with records still to come and none seen yet: nothing can be said until they come
      if (q === undefined) return false;
      if (q.st < low) low = q.st;
    }
    if (low === Infinity || low <= this.st) return false;
    this.st = low;
    return true;
  }

  private isIdle(group: InputGroup, m: SourceRef, now: number): boolean {
    if (group.waiting(m)) {
      this.quiet.delete(m);
      return false;
    }
    let since = this.quiet.get(m);
    if (since === undefined) this.quiet.set(m, (since = now));
    return now - since >= this.idleMs;
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
