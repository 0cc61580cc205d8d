import { unary, type AggFunction } from './function.js';
import { picker, type PickState } from './pick.js';

/** The value of the latest record by event time (arrival breaks ties). */
export const last: AggFunction<PickState> = {
  ...unary('last', 'last(r.page)'),
  ...picker((t, q, st, sq) => t > st || (t === st && q > sq)),
};
