import { oneArg, type AggFunction } from './function.js';
import { hdrState, percentileOf, type HdrState } from './percentile.js';

/** `median(expr)`: the 50th percentile, exactly as p50 (the same histogram when both are asked for). */
export const median: AggFunction<HdrState | undefined> = {
  name: 'median',
  usage: 'median(expr)',
  parse: (c) => ({ arg: oneArg(c, 'median(r.latency_ms)'), param: 50 }),
  ...hdrState,
  result: (s) => percentileOf(s, 50),
};
