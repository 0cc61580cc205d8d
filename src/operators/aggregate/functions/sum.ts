import { oneArg, same, type AggFunction } from './function.js';

export const sum: AggFunction<number> = {
  name: 'sum',
  usage: 'sum(expr)',
  parse: (c) => ({ arg: oneArg(c, 'sum(r.amount)'), param: undefined }),
  numeric: 'finite',
  state: () => 'sum',
  init: () => 0,
  add: (s, v) => s + v,
  merge: (a, b) => a + b,
  clone: same,
  toJson: same,
  fromJson: (j) => (typeof j === 'number' ? j : 0),
  result: same,
};
