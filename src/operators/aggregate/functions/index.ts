import type { AggFunction } from './function.js';
import { avg } from './avg.js';
import { count } from './count.js';
import { distinct } from './distinct.js';
import { first } from './first.js';
import { last } from './last.js';
import { max } from './max.js';
import { median } from './median.js';
import { min } from './min.js';
import { percentile } from './percentile.js';
import { stddev } from './stddev.js';
import { sum } from './sum.js';
import { topk } from './topk.js';

export type { AggFunction, AggCallText } from './function.js';

/** Every aggregate function, in the order help lists them. */
export const FUNCTIONS: readonly AggFunction[] = [count, sum, min, max, avg, first, last, distinct, stddev, median, percentile, topk];

/** The function a call names (case-insensitive), with the parameter its name carries (`p99` → 99). */
export function lookupFunction(name: string): { fn: AggFunction; param: unknown } | undefined {
  const n = name.toLowerCase();
  for (const fn of FUNCTIONS) {
    if (fn.match) {
      const param = fn.match(n);
      if (param !== undefined) return { fn, param };
    } else if (fn.name === n) return { fn, param: undefined };
  }
  return undefined;
}
