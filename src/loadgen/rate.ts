/**
 * Constant-rate pacing by schedule.
 *
 * Record i is due at `t0 + i * 1000 / rate`. The pacer never sleeps per record: each wake-up releases everything due
 * by then as one batch, so 100k records/s costs ~1000 timer wake-ups, not 100k. When the consumer falls behind
 * (slow sink, GC pause) the pacer does not stretch the schedule — the next call releases the backlog at once — and
 * counts how many records went out more than 1 ms after their intended time. Measuring latency from the intended
 * time, not from when the record actually left, is what corrects for coordinated omission.
 *
 * The clock is injected so tests drive time without sleeping.
 */
import { now as monoNow, wallNow } from '../runtime.js';

export interface PaceClock {
  /** Monotonic ms. */
  now(): number;
  /** Epoch ms. */
  wallNow(): number;
  /** Resolve after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: PaceClock = {
  now: monoNow,
  wallNow,
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

export class Schedule {
  constructor(readonly rate: number) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError('rate must be a positive number');
  }

  /** Intended send time of record i, in ms after the schedule's start. */
  intendedTime(i: number): number {
    return (i * 1000) / this.rate;
  }

  /** How many records (0..k-1) are due `elapsed` ms after the start. */
  dueCount(elapsed: number): number {
    return elapsed < 0 ? 0 : Math.floor((elapsed * this.rate) / 1000) + 1;
  }
}

/** Behind schedule by more than this counts as late. */
export const LATE_MS = 1;

export class Pacer {
  /** Records released more than LATE_MS after their intended time. */
  late = 0;
  /** Largest lag seen, ms. */
  maxBehindMs = 0;
  /** Timer waits so far (tests check that pacing is by batch, not by record). */
  sleeps = 0;

  constructor(readonly schedule: Schedule, private readonly clock: PaceClock, readonly t0: number, private readonly minSleepMs = 1) {}

  /**
   * Wait until record `i` is due, then return how many records from `i` on are due now (1..max). Returns 0 only when
   * `signal` aborted the wait.
   */
  async due(i: number, max: number, signal?: AbortSignal): Promise<number> {
    const s = this.schedule;
    for (;;) {
      if (signal?.aborted) return 0;
      const elapsed = this.clock.now() - this.t0;
      const dueEnd = s.dueCount(elapsed);
      if (dueEnd > i) {
        const n = Math.min(dueEnd - i, max);
        const behind = elapsed - s.intendedTime(i);
        if (behind > this.maxBehindMs) this.maxBehindMs = behind;
        if (behind > LATE_MS) {
          // Intended times rise with i, so the late records of a batch are a prefix: those due before elapsed - 1 ms.
          const lateEnd = Math.min(i + n, Math.ceil(((elapsed - LATE_MS) * s.rate) / 1000));
          if (lateEnd > i) this.late += lateEnd - i;
        }
        return n;
      }
      this.sleeps++;
      await this.clock.sleep(Math.max(this.minSleepMs, s.intendedTime(i) - elapsed), signal);
    }
  }
}
