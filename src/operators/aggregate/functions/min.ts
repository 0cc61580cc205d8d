import { unary, type AggFunction } from './function.js';
import { extreme } from './extreme.js';

/** The smallest value; null for a group without values. */
export const min: AggFunction<number | undefined> = {
  ...unary('min', 'min(r.latency_ms)'),
  ...extreme((v, s) => v < s),
};
