/**
 * The fixed point of recorded latencies and values, shared by `kstream stats` (report/hdr.ts) and the percentile
 * aggregates (operators/hdrbins.ts) so both report the same numbers. Kept free of imports: `aggregate` must not
 * load hdr-histogram-js through report/hdr.ts.
 */

/** Recorded integer = round(value × SCALE). */
export const SCALE = 1000;

/**
 * The integer in [lo, hi] with the most trailing decimal zeros (the shortest decimal once divided by SCALE),
 * nearest the middle of the range when several tie: how a percentile is reported from its bucket.
 */
export function shortestIn(lo: number, hi: number): number {
  const mid = (lo + hi) / 2;
  let best = Math.round(mid);
  for (let p = 1; p <= Math.max(hi, 1); p *= 10) {
    const first = Math.ceil(lo / p) * p;
    const last = Math.floor(hi / p) * p;
    if (first > hi) break;
    best = Math.min(last, Math.max(first, Math.round(mid / p) * p));
  }
  return best;
}
