import { unary, same, type AggFunction } from './function.js';

export const sum: AggFunction<number> = {
  ...unary('sum', 'sum(r.amount)'),
  numeric: 'finite',
  init: () => 0,
  add: (s, v) => s + v,
  merge: (a, b) => a + b,
  clone: same,
  toJson: same,
  fromJson: (j) => (typeof j === 'number' ? j : 0),
  result: same,
};
