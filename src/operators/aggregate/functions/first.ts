import { oneArg, type AggFunction } from './function.js';
import { picker, type PickState } from './pick.js';

/** The value of the earliest record by event time (arrival breaks ties). */
export const first: AggFunction<PickState> = {
  name: 'first',
  usage: 'first(expr)',
  parse: (c) => ({ arg: oneArg(c, 'first(r.page)'), param: undefined }),
  state: () => 'first',
  ...picker((t, q, st, sq) => t < st || (t === st && q < sq)),
};
