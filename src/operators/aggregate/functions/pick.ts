import type { AggFunction } from './function.js';

/** A value with the event time and arrival sequence that decide which one `first` and `last` keep. */
export interface PickState { has: boolean; v: unknown; t: number; q: number }

/**
 * The state operations of `first` and `last`: `before(a, b)` says whether a value at (t, q) wins over the one
 * kept at (s.t, s.q) — earlier for first, later for last; arrival order breaks ties of event time.
 */
export function picker(before: (t: number, q: number, st: number, sq: number) => boolean): Omit<AggFunction<PickState>, 'name' | 'usage' | 'parse' | 'state'> {
  return {
    numeric: false,
    init: () => ({ has: false, v: undefined, t: 0, q: 0 }),
    add: (s, v, t, q) => {
      if (!s.has || before(t, q, s.t, s.q)) {
        s.has = true;
        s.v = v;
        s.t = t;
        s.q = q;
      }
      return s;
    },
    merge: (a, b) => {
      if (b.has && (!a.has || before(b.t, b.q, a.t, a.q))) Object.assign(a, b);
      return a;
    },
    clone: (s) => ({ ...s }),
    toJson: (s) => (s.has ? [s.v === undefined ? null : s.v, s.t, s.q] : null),
    fromJson: (j) => (Array.isArray(j) ? { has: true, v: j[0], t: j[1], q: j[2] } : { has: false, v: undefined, t: 0, q: 0 }),
    result: (s) => (s.has ? s.v : null),
  };
}
