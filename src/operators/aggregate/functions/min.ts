import { oneArg, type AggFunction } from './function.js';
import { extreme } from './extreme.js';

/** The smallest value; null for a group without values. */
export const min: AggFunction<number | undefined> = {
  name: 'min',
  usage: 'min(expr)',
  parse: (c) => ({ arg: oneArg(c, 'min(r.latency_ms)'), param: undefined }),
  state: () => 'min',
  ...extreme((v, s) => v < s),
};
