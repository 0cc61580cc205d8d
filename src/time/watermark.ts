/**
 * Stream time and watermark of one operator instance (docs/semantics.md "Time").
 *
 * Stream time (ST) is the largest event time seen; out-of-order records never lower it, and one ST serves all
 * keys. The watermark is ST − grace: a window closes when the watermark passes its close point. Before the first
 * record both are −∞; at end of input they become +∞.
 *
 * Idle flush: when a long-running source goes quiet, ST advances with the wall clock — by the wall time elapsed
 * since the last record, once that exceeds the idle threshold — so idle windows close instead of waiting for the
 * next record. A record that later arrives behind the advanced ST is late, as it would be after any ST advance.
 */
export class StreamTime {
  st = -Infinity;
  private lastArrivalWall: number | undefined;
  private stAtArrival = -Infinity;

  constructor(readonly grace: number) {}

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
