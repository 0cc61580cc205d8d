import { canon, unary, type AggFunction } from './function.js';

/** The exact number of distinct values (1 and "1" differ; objects compare by content). */
export const distinct: AggFunction<Set<unknown>> = {
  ...unary('distinct', 'distinct(r.user)'),
  numeric: false,
  init: () => new Set(),
  add: (s, v) => s.add(canon(v)),
  merge: (a, b) => {
    for (const v of b) a.add(v);
    return a;
  },
  clone: (s) => new Set(s),
  toJson: (s) => [...s],
  fromJson: (j) => new Set(Array.isArray(j) ? j : []),
  result: (s) => s.size,
};
