import { oneArg, type AggFunction } from './function.js';
import { extreme } from './extreme.js';

/** The largest value; null for a group without values. */
export const max: AggFunction<number | undefined> = {
  name: 'max',
  usage: 'max(expr)',
  parse: (c) => ({ arg: oneArg(c, 'max(r.latency_ms)'), param: undefined }),
  state: () => 'max',
  ...extreme((v, s) => v > s),
};
