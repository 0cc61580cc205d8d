/**
 * HDR histograms for latencies and field values (hdr-histogram-js, pure JS build: same results on every runtime).
 *
 * Fixed-point unit: HDR records integers, so every value is recorded as round(value × 1000):
 *  - latencies are given in ms and stored in µs (0.001 ms resolution), reported back in ms;
 *  - field values are stored in thousandths (3 decimals), reported in the field's own unit.
 * With 3 significant digits the histogram is exact below 2.048 (in the unit) and within 0.05% above.
 *
 * Reported percentiles: the histogram knows a percentile only up to its bucket (e.g. 98.944..99.007 for a recorded
 * 99). Printing the bucket's top (99.007) would show digits the histogram does not have, so each percentile is
 * reported as the shortest decimal inside its bucket — 99 — the way float printing picks the shortest round-trip
 * form. Hence p50 of 1,2,3,4 is 2 and p99 of 1..100 is 99 (docs/semantics.md), and a 40.123 ms latency reads 40.1.
 * min, max and mean are tracked exactly beside the histogram.
 *
 * Negative values (clock skew: a timestamp in the future) are counted, not recorded — a percentile over them would
 * be meaningless — and reported as `negative`.
 */
import * as hdr from 'hdr-histogram-js';
import { SCALE, shortestIn } from './decimal.js';

export { SCALE, shortestIn };

const MAX_RECORDABLE = Math.floor(Number.MAX_SAFE_INTEGER / 2);

export const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;
export type PercentileKey = 'p50' | 'p90' | 'p99' | 'p99.9' | 'p99.99';

export interface HdrSummary {
  /** Values in the histogram (negative ones excluded). */
  count: number;
  /** Values below zero: counted, not in the percentiles. */
  negative: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  'p99.9': number | null;
  'p99.99': number | null;
  max: number | null;
  /** Only present when some value was beyond ~4.5e12 (not recordable at 3 decimals). */
  too_large?: number;
}

/** The parts of JsHistogram the wrapper uses beyond the exported interface. */
type JsHist = hdr.Histogram & { lowestEquivalentValue(v: number): number; highestEquivalentValue(v: number): number };

export class Hdr {
  private readonly h: JsHist;
  private n = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;
  negative = 0;
  tooLarge = 0;

  constructor() {
    this.h = hdr.build({ useWebAssembly: false, numberOfSignificantValueDigits: 3, autoResize: true, bitBucketSize: 32 }) as JsHist;
  }

  get count(): number {
    return this.n;
  }

  /** Record one value in the unit (ms for latencies). Callers check it is a finite number. */
  record(v: number): void {
    if (v < 0) {
      this.negative++;
      return;
    }
    const x = Math.round(v * SCALE);
    if (x > MAX_RECORDABLE) {
      this.tooLarge++;
      return;
    }
    this.h.recordValue(x);
    this.n++;
    this.sum += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /**
   * Record a latency measured by a closed-loop client that waits for each response, correcting for coordinated
   * omission: a stall of `v` also hid the requests that should have been sent every `expectedInterval` during it,
   * so those are recorded too (v - interval, v - 2·interval, ...), as HdrHistogram's recordValueWithExpectedInterval
   * does. Not needed when latency is measured from each record's intended send time (gen --rate), which already
   * includes the queueing delay.
   */
  recordCorrected(v: number, expectedInterval: number): void {
    this.record(v);
    if (!(expectedInterval > 0) || !(v > expectedInterval)) return;
    for (let missing = v - expectedInterval; missing >= expectedInterval; missing -= expectedInterval) this.record(missing);
  }

  /** Merge another histogram into this one (interval into total). */
  add(other: Hdr): void {
    if (other.n > 0) {
      this.h.add(other.h);
      this.n += other.n;
      this.sum += other.sum;
      if (other.lo < this.lo) this.lo = other.lo;
      if (other.hi > this.hi) this.hi = other.hi;
    }
    this.negative += other.negative;
    this.tooLarge += other.tooLarge;
  }

  reset(): void {
    this.h.reset();
    this.n = 0;
    this.sum = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
    this.negative = 0;
    this.tooLarge = 0;
  }

  /** Value at percentile p (0-100) in the unit, or null when empty. */
  percentile(p: number): number | null {
    if (this.n === 0) return null;
    if (p >= 100) return this.hi;
    const v = this.h.getValueAtPercentile(p);
    const s = shortestIn(this.h.lowestEquivalentValue(v), this.h.highestEquivalentValue(v)) / SCALE;
    // The bucket may reach past the exact extremes (a lone 0.0004 is recorded as 0).
    return Math.min(this.hi, Math.max(this.lo, s));
  }

  summary(): HdrSummary {
    const empty = this.n === 0;
    const s: HdrSummary = {
      count: this.n,
      negative: this.negative,
      min: empty ? null : round3(this.lo),
      mean: empty ? null : round3(this.sum / this.n),
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      'p99.9': this.percentile(99.9),
      'p99.99': this.percentile(99.99),
      max: empty ? null : round3(this.hi),
    };
    for (const k of ['p50', 'p90', 'p99', 'p99.9', 'p99.99'] as const) if (s[k] !== null) s[k] = round3(s[k]!);
    if (this.tooLarge) s.too_large = this.tooLarge;
    return s;
  }
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

