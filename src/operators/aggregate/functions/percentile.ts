import { UsageError } from '../../../pipeline/errors.js';
import { bucketHigh, bucketLow, HdrBins, rankAt, SCALE, shortestIn } from '../../hdrbins.js';
import { oneArg, type AggFunction } from './function.js';

/**
 * Percentiles `pNN` (p50, p99, p99.9), with the fixed point of `kstream stats` (report/hdr.ts), so both report the
 * same numbers for the same values: each value is recorded as round(v × 1000) in an HDR histogram with 3
 * significant digits, and a percentile is reported as the shortest decimal inside its bucket, clamped to the
 * exact min and max (p50 of 1,2,3,4 is 2; p99 of 1..100 is 99). Negative values (clock skew) and values above
 * ~4.5e12 cannot be recorded: they are left out, and the stage counts them (`not-recordable`).
 *
 * Memory: an HDR histogram costs tens of kilobytes (and HDR's packed layout, though small, takes milliseconds per
 * percentile query), far too much for thousands of small (window, key) groups. So a group keeps its first
 * HDR_EXACT_LIMIT values in a plain array and answers exactly as the histogram would — the bucket of the same
 * ranked value — and moves to bucket counts only beyond that, when their size is paid for by the values. The
 * counts are the library's layout, filled without its per-value float arithmetic (hdrbins.ts).
 */
export interface HdrState {
  /** Recorded (scaled) values while the group is small; undefined once the bucket counts hold them. */
  vals: number[] | undefined;
  sorted: boolean;
  h: HdrBins | undefined;
  lo: number;
  hi: number;
}

export const HDR_EXACT_LIMIT = 256;

const MAX_RECORDABLE = Math.floor(Number.MAX_SAFE_INTEGER / 2);

/** Whether a percentile can record v (not negative, not beyond the fixed-point range). */
export const hdrRecordable = (v: number): boolean => v >= 0 && Math.round(v * SCALE) <= MAX_RECORDABLE;

function toHistogram(s: HdrState): void {
  // Room up to 8× the largest value so far: later values rarely make the counts grow.
  const h = new HdrBins(Math.min(Math.round(s.hi * SCALE) * 8, MAX_RECORDABLE));
  for (const x of s.vals!) h.record(x);
  s.h = h;
  s.vals = undefined;
}

/** The p-th percentile of a state, as JsHistogram.getValueAtPercentile finds it: the bucket of the ⌈p% · n⌉-th smallest value. */
export function percentileOf(s: HdrState | undefined, p: number): number | null {
  if (s === undefined) return null;
  if (p >= 100) return s.hi;
  let v: number;
  if (s.h) {
    // getValueAtPercentile answers with an end of the bucket found, not the index's own value.
    const at = s.h.valueAtRank(rankAt(p, s.h.total));
    v = p === 0 ? bucketLow(at) : bucketHigh(at);
  } else {
    const vals = s.vals!;
    if (!s.sorted) {
      vals.sort((a, b) => a - b);
      s.sorted = true;
    }
    v = vals[Math.min(rankAt(p, vals.length), vals.length) - 1];
  }
  const x = shortestIn(bucketLow(v), bucketHigh(v)) / SCALE;
  return Math.min(s.hi, Math.max(s.lo, x));
}

const clone = (s: HdrState | undefined): HdrState | undefined =>
  s === undefined ? undefined : { vals: s.vals?.slice(), sorted: s.sorted, h: s.h?.clone(), lo: s.lo, hi: s.hi };

/** The state and its operations, shared by every percentile function (pNN, median) over the same argument. */
export const hdrState: Omit<AggFunction<HdrState | undefined>, 'name' | 'usage' | 'parse' | 'result' | 'match'> = {
  numeric: 'recordable',
  state: () => 'hdr',
  init: () => undefined,
  add: (s, v) => {
    const x = Math.round(v * SCALE);
    if (!(v >= 0 && x <= MAX_RECORDABLE)) return s;
    const st: HdrState = s ?? { vals: [], sorted: true, h: undefined, lo: Infinity, hi: -Infinity };
    if (st.h) st.h.record(x);
    else {
      st.vals!.push(x);
      st.sorted = false;
      if (st.vals!.length > HDR_EXACT_LIMIT) toHistogram(st);
    }
    if (v < st.lo) st.lo = v;
    if (v > st.hi) st.hi = v;
    return st;
  },
  merge: (a, b) => {
    if (b === undefined) return a;
    if (a === undefined) return clone(b);
    if (!a.h && !b.h && a.vals!.length + b.vals!.length <= HDR_EXACT_LIMIT) {
      for (const x of b.vals!) a.vals!.push(x);
      a.sorted = false;
    } else {
      if (!a.h) toHistogram(a);
      if (b.h) a.h!.add(b.h);
      else for (const x of b.vals!) a.h!.record(x);
    }
    if (b.lo < a.lo) a.lo = b.lo;
    if (b.hi > a.hi) a.hi = b.hi;
    return a;
  },
  clone,
  release: (s) => {
    if (s !== undefined && s.h !== undefined) {
      s.h.release();
      s.h = undefined;
      s.vals = [];
    }
  },
  toJson: (s) => (s === undefined ? null : s.h ? { lo: s.lo, hi: s.hi, bins: s.h.toSparse() } : { lo: s.lo, hi: s.hi, vals: s.vals }),
  fromJson: (j: any) => {
    if (j === null || typeof j !== 'object') return undefined;
    const st: HdrState = { vals: undefined, sorted: false, h: undefined, lo: j.lo, hi: j.hi };
    if (Array.isArray(j.bins)) st.h = HdrBins.fromSparse(j.bins, Math.min(Math.round(j.hi * SCALE) * 8, MAX_RECORDABLE));
    else st.vals = Array.isArray(j.vals) ? j.vals : [];
    return st;
  },
};

/** `pNN(expr)`: the NN-th percentile, 0 ≤ NN ≤ 100 (p50, p99, p99.9). */
export const percentile: AggFunction<HdrState | undefined> = {
  name: 'pNN',
  usage: 'pNN(expr)',
  match: (name) => {
    const m = /^p(\d+(?:\.\d+)?)$/.exec(name);
    return m ? Number(m[1]) : undefined;
  },
  parse(c, q) {
    if (!((q as number) >= 0 && (q as number) <= 100)) throw new UsageError(`\`${c.fn}\`: percentile must be between 0 and 100`, 'for example p50, p99, p99.9');
    return { arg: oneArg(c, `${c.fn.toLowerCase()}(r.latency_ms)`), param: q };
  },
  ...hdrState,
  result: (s, q) => percentileOf(s, q as number),
};
