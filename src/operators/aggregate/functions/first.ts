import { unary, type AggFunction } from './function.js';
import { picker, type PickState } from './pick.js';

/** The value of the earliest record by event time (arrival breaks ties). */
export const first: AggFunction<PickState> = {
  ...unary('first', 'first(r.page)'),
  ...picker((t, q, st, sq) => t < st || (t === st && q < sq)),
};
