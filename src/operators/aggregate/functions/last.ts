import { oneArg, type AggFunction } from './function.js';
import { picker, type PickState } from './pick.js';

/** The value of the latest record by event time (arrival breaks ties). */
export const last: AggFunction<PickState> = {
  name: 'last',
  usage: 'last(expr)',
  parse: (c) => ({ arg: oneArg(c, 'last(r.page)'), param: undefined }),
  state: () => 'last',
  ...picker((t, q, st, sq) => t > st || (t === st && q > sq)),
};
