/**
 * HDR bucket counts for the percentile aggregates, in hdr-histogram-js's own layout at 3 significant digits
 * (sub-bucket count 2048, unit 1), so they answer exactly as the library's histogram — and so `kstream stats`
 * (report/hdr.ts) — would for the same values; test/aggregate.test.mjs holds them to it.
 *
 * Why not the library: its recordValue finds the bucket with floating-point log2 and pow (~100 ns a value), which
 * was a tenth of a windowed aggregation's time, and merely loading it costs ~40 ms at start. Here the bucket of a
 * value below 2^32 is a clz32 and a shift. Percentiles walk the counts as JsHistogram.getValueAtPercentile does.
 *
 * Layout (JsHistogram.countsArrayIndex): a value v below 2048 counts at index v; above, with b = ⌊log2 v⌋ − 10,
 * at b·1024 + ⌊v / 2^b⌋. Bucket b therefore needs (b + 2)·1024 counts.
 */
const HALF = 1024;

export class HdrBins {
  counts: Uint32Array;
  /** Per 1024 counts, their sum: a percentile walks these first, then one block. */
  blocks: Uint32Array;
  total = 0;

  /** `top`: the largest value expected, so the counts are allocated once, not grown bucket by bucket. */
  constructor(top = 0, counts?: Uint32Array, blocks?: Uint32Array, total = 0) {
    this.counts = counts ?? take(sizeFor(binOf(top)));
    this.blocks = blocks ?? blocksFor(this.counts);
    this.total = total;
  }

  record(v: number): void {
    const i = binOf(v);
    if (i >= this.counts.length) this.grow(i);
    this.counts[i]++;
    this.blocks[i >>> 10]++;
    this.total++;
  }

  add(o: HdrBins): void {
    if (o.counts.length > this.counts.length) this.grow(o.counts.length - 1);
    const c = this.counts;
    const d = o.counts;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) c[i] += d[i];
    for (let k = 0; k < o.blocks.length; k++) this.blocks[k] += o.blocks[k];
    this.total += o.total;
  }

  clone(): HdrBins {
    const c = take(this.counts.length);
    c.set(this.counts);
    return new HdrBins(0, c, this.blocks.slice(), this.total);
  }

  /** A value in the bucket holding the given rank (1-based, rank <= total). */
  valueAtRank(rank: number): number {
    const c = this.counts;
    const b = this.blocks;
    let sum = 0;
    let k = 0;
    while (k < b.length - 1 && sum + b[k] < rank) sum += b[k++];
    for (let i = k * HALF; i < c.length; i++) {
      sum += c[i];
      if (sum >= rank) return valueOfBin(i);
    }
    return valueOfBin(c.length - 1);
  }

  /** The non-zero counts as [index, count, index, count, …], for a state changelog. */
  toSparse(): number[] {
    const res: number[] = [];
    const c = this.counts;
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) res.push(i, c[i]);
    return res;
  }

  /** Counts from toSparse() (`top` sizes them as the original's were at least). */
  static fromSparse(pairs: readonly number[], top: number): HdrBins {
    const h = new HdrBins(top);
    for (let k = 0; k + 1 < pairs.length; k += 2) {
      const i = pairs[k];
      const n = pairs[k + 1];
      if (!(Number.isInteger(i) && i >= 0 && Number.isInteger(n) && n > 0)) continue;
      if (i >= h.counts.length) h.grow(i);
      h.counts[i] += n;
      h.blocks[i >>> 10] += n;
      h.total += n;
    }
    return h;
  }

  /** The counts are no longer needed (the window closed): they go back to the pool for the next group. */
  release(): void {
    if (pool.length < POOL) {
      this.counts.fill(0);
      pool.push(this.counts);
    }
    this.counts = EMPTY;
    this.blocks = EMPTY;
    this.total = 0;
  }

  private grow(i: number): void {
    const c = take(sizeFor(i));
    c.set(this.counts);
    this.counts = c;
    const b = blocksFor(c);
    b.set(this.blocks);
    this.blocks = b;
  }
}

// Counts of closed windows, zeroed, for the groups of the windows that open next: without them every group of
// every window allocates (and the GC frees) tens of kilobytes. Bounded: a pool, not a cache.
const POOL = 64;
const pool: Uint32Array[] = [];
const EMPTY = new Uint32Array(0);

function take(n: number): Uint32Array {
  for (let k = pool.length - 1; k >= 0; k--) {
    if (pool[k].length >= n) {
      const c = pool[k];
      pool[k] = pool[pool.length - 1];
      pool.pop();
      return c;
    }
  }
  return new Uint32Array(n);
}

function blocksFor(counts: Uint32Array): Uint32Array {
  return new Uint32Array(counts.length / HALF);
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

/**
 * The lowest and highest value equivalent to v (JsHistogram.lowest/highestEquivalentValue), from v's bucket as
 * the library finds it — including its float arithmetic beyond 32 bits, where the bucket it finds here can differ
 * by one from countsArrayIndex's near a power of two.
 */
export function bucketLow(v: number): number {
  if (v < 2 * HALF) return v;
  if (v < 4294967296) {
    const b = 21 - Math.clz32(v);
    return (v >>> b) * Math.pow(2, b);
  }
  const b = Math.floor(Math.log2(v)) - 10;
  return Math.floor(v / Math.pow(2, b)) * Math.pow(2, b);
}

export function bucketHigh(v: number): number {
  if (v < 2 * HALF) return v;
  const b = v < 4294967296 ? 21 - Math.clz32(v) : Math.floor(Math.log2(v)) - 10;
  const sub = v < 4294967296 ? v >>> b : Math.floor(v / Math.pow(2, b));
  return bucketLow(v) + Math.pow(2, sub >= 2 * HALF ? b + 1 : b) - 1;
}

export { SCALE, shortestIn } from '../report/decimal.js';
