import type { AggFunction } from './function.js';

/** The state operations of `min` and `max`: `better(v, s)` says whether v replaces the value kept. */
export function extreme(better: (v: number, s: number) => boolean): Omit<AggFunction<number | undefined>, 'name' | 'usage' | 'parse' | 'state'> {
  return {
    numeric: 'finite',
    init: () => undefined,
    add: (s, v) => (s === undefined || better(v, s) ? v : s),
    merge: (a, b) => (a === undefined || (b !== undefined && better(b, a)) ? b : a),
    clone: (s) => s,
    toJson: (s) => (s === undefined ? null : s),
    fromJson: (j) => (j === null ? undefined : (j as number)),
    result: (s) => s ?? null,
  };
}
