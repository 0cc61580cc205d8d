import { unary, type AggFunction } from './function.js';

interface VarState { n: number; mean: number; m2: number }

/** Population standard deviation (divides by n): the spread of the values seen, as HDR and numpy report it. */
export const stddev: AggFunction<VarState> = {
  ...unary('stddev', 'stddev(r.latency_ms)'),
  numeric: 'finite',
  init: () => ({ n: 0, mean: 0, m2: 0 }),
  add: (s, v) => {
    // Welford: stable for long streams of large, close values.
    s.n++;
    const d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
    return s;
  },
  merge: (a, b) => {
    // Chan et al.: combine two Welford states exactly.
    if (b.n === 0) return a;
    if (a.n === 0) return { ...b };
    const n = a.n + b.n;
    const d = b.mean - a.mean;
    return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n };
  },
  clone: (s) => ({ ...s }),
  toJson: (s) => s,
  fromJson: (j: any) => ({ n: Number(j?.n) || 0, mean: Number(j?.mean) || 0, m2: Number(j?.m2) || 0 }),
  result: (s) => (s.n ? Math.sqrt(Math.max(0, s.m2) / s.n) : null),
};
