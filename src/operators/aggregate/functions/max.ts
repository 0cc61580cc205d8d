import { unary, type AggFunction } from './function.js';
import { extreme } from './extreme.js';

/** The largest value; null for a group without values. */
export const max: AggFunction<number | undefined> = {
  ...unary('max', 'max(r.latency_ms)'),
  ...extreme((v, s) => v > s),
};
