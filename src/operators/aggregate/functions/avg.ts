import { unary, type AggFunction } from './function.js';

interface AvgState { sum: number; n: number }

/** The mean of the values; null for a group without values. */
export const avg: AggFunction<AvgState> = {
  ...unary('avg', 'avg(r.latency_ms)'),
  numeric: 'finite',
  init: () => ({ sum: 0, n: 0 }),
  add: (s, v) => {
    s.sum += v;
    s.n++;
    return s;
  },
  merge: (a, b) => {
    a.sum += b.sum;
    a.n += b.n;
    return a;
  },
  clone: (s) => ({ ...s }),
  toJson: (s) => s,
  fromJson: (j: any) => ({ sum: Number(j?.sum) || 0, n: Number(j?.n) || 0 }),
  result: (s) => (s.n ? s.sum / s.n : null),
};
