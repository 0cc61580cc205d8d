/**
 * HDR bucket counts for the percentile aggregates, in hdr-histogram-js's own layout at 3 significant digits
 * (sub-bucket count 2048, unit 1), so they answer exactly as the library's histogram would for the same values.
 *
 * Why not the library: its recordValue finds the bucket with floating-point log2 and pow (~100 ns a value), which
 * was a tenth of a windowed aggregation's time. Here the bucket of a value below 2^32 is a clz32 and a shift.
 * Percentiles walk the counts as JsHistogram.getValueAtPercentile does; the bucket bounds a percentile is reported
 * from still come from the library (aggfns.ts), so the two cannot drift apart in the part that is arithmetic.
 *
 * Layout (JsHistogram.countsArrayIndex): a value v below 2048 counts at index v; above, with b = ⌊log2 v⌋ − 10,
 * at b·1024 + ⌊v / 2^b⌋. Bucket b therefore needs (b + 2)·1024 counts.
 */
const HALF = 1024;

export class HdrBins {
  counts: Uint32Array;
  total = 0;

  /** `top`: the largest value expected, so the counts are allocated once, not grown bucket by bucket. */
  constructor(top = 0, counts?: Uint32Array, total = 0) {
    this.counts = counts ?? new Uint32Array(sizeFor(binOf(top)));
    this.total = total;
  }

  record(v: number): void {
    const i = binOf(v);
    if (i >= this.counts.length) this.grow(i);
    this.counts[i]++;
    this.total++;
  }

  add(o: HdrBins): void {
    if (o.counts.length > this.counts.length) this.grow(o.counts.length - 1);
    const c = this.counts;
    const d = o.counts;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) c[i] += d[i];
    this.total += o.total;
  }

  clone(): HdrBins {
    return new HdrBins(0, this.counts.slice(), this.total);
  }

  /** A value in the bucket holding the given rank (1-based, rank <= total). */
  valueAtRank(rank: number): number {
    const c = this.counts;
    let sum = 0;
    for (let i = 0; i < c.length; i++) {
      sum += c[i];
      if (sum >= rank) return valueOfBin(i);
    }
    return valueOfBin(c.length - 1);
  }

  private grow(i: number): void {
    const c = new Uint32Array(sizeFor(i));
    c.set(this.counts);
    this.counts = c;
  }
}

/** Counts for every bucket up to the one of index i. */
function sizeFor(i: number): number {
  return Math.max(Math.floor(i / HALF) + 2, 2) * HALF;
}

/** JsHistogram.countsArrayIndex for 3 significant digits and unit 1. */
export function binOf(v: number): number {
  if (v < 2 * HALF) return v;
  if (v < 4294967296) {
    const b = 21 - Math.clz32(v); // ⌊log2 v⌋ − 10
    return b * HALF + (v >>> b);
  }
  // Same float arithmetic as the library beyond 32 bits.
  const b = Math.floor(Math.log2(v)) - 10;
  return b * HALF + Math.floor(v / Math.pow(2, b));
}

/** JsHistogram.valueFromIndex: the lowest value of a bucket. */
export function valueOfBin(i: number): number {
  let b = Math.floor(i / HALF) - 1;
  let sub = (i % HALF) + HALF;
  if (b < 0) {
    sub -= HALF;
    b = 0;
  }
  return sub * Math.pow(2, b);
}

/** The rank JsHistogram.getValueAtPercentile looks for: ⌈p% · n⌉, guarded against a one-ulp overshoot, >= 1. */
export function rankAt(p: number, n: number): number {
  const fp = (Math.min(p, 100) / 100) * n;
  return Math.max(Math.ceil(fp - (fp > 0 ? Math.pow(2, Math.floor(Math.log2(fp)) - 52) : 0)), 1);
}
