import { UsageError } from '../../../pipeline/errors.js';
import { canon, nArgs, type AggFunction } from './function.js';

type FreqState = Map<unknown, { v: unknown; c: number }>;

/** The n most frequent values with their counts, most frequent first; ties by the value's JSON text. */
export const topk: AggFunction<FreqState> = {
  name: 'topk',
  usage: 'topk(expr, n)',
  parse(c) {
    const [arg, ns] = nArgs(c, 2, 'topk(r.page, 3)');
    const n = Number(ns);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`\`${c.text}\`: n must be a whole number >= 1`, 'for example `topk(r.page, 3)`');
    return { arg, param: n };
  },
  numeric: false,
  state: () => 'freq',
  init: () => new Map(),
  add: (s, v) => {
    const k = canon(v);
    const e = s.get(k);
    if (e) e.c++;
    else s.set(k, { v, c: 1 });
    return s;
  },
  merge: (a, b) => {
    for (const [k, e] of b) {
      const x = a.get(k);
      if (x) x.c += e.c;
      else a.set(k, { v: e.v, c: e.c });
    }
    return a;
  },
  clone: (s) => {
    const m: FreqState = new Map();
    for (const [k, e] of s) m.set(k, { v: e.v, c: e.c });
    return m;
  },
  toJson: (s) => [...s.values()].map((e) => [e.v, e.c]),
  fromJson: (j) => {
    const m: FreqState = new Map();
    if (Array.isArray(j)) for (const [v, c] of j) m.set(canon(v), { v, c });
    return m;
  },
  result: (s, n) => {
    const all = [...s.values()];
    all.sort((a, b) => b.c - a.c || cmpText(a.v, b.v));
    const res: { value: unknown; count: number }[] = [];
    for (let i = 0; i < all.length && i < (n as number); i++) res.push({ value: all[i].v, count: all[i].c });
    return res;
  },
};

function cmpText(a: unknown, b: unknown): number {
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
