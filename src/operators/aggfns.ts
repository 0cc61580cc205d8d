import { UsageError } from '../pipeline/errors.js';
import { bucketHigh, bucketLow, HdrBins, rankAt, SCALE, shortestIn } from './hdrbins.js';

/**
 * Aggregate functions (SEMANTICS.md "Aggregate functions"): what `aggregate count 'avg(r.ms)' 'p99(r.ms) as lat'`
 * means, parsed into a plan of state slots and named outputs.
 *
 * Every function keeps a small partial state with `add`, `merge` (session merges, future parallel workers) and
 * `clone` (sliding windows seeded from another window). Outputs read a slot: p50 and p99 of the same expression
 * share one histogram, and sum/avg of one field each keep their own cheap state.
 *
 * Values: null and missing values are skipped by every function but `count`. Numeric functions take numbers and
 * numeric strings ("12.5"); anything else is a bad record (the stage's --on-error policy decides).
 *
 * Percentiles use the same fixed point as `kstream stats` (report/hdr.ts), so both report the same numbers for the
 * same values: each value is recorded as round(v × 1000) in an HDR histogram with 3 significant digits, and a
 * percentile is reported as the shortest decimal inside its bucket, clamped to the exact min and max (p50 of
 * 1,2,3,4 is 2; p99 of 1..100 is 99). Negative values (clock skew) and values above ~4.5e12 cannot be recorded:
 * they are left out of the percentiles, and the stage counts them (`not-recordable`).
 *
 * Memory: an HDR histogram costs tens of kilobytes (and HDR's packed layout, though small, takes milliseconds per
 * percentile query), far too much for thousands of small (window, key) groups. So a group keeps its first
 * HDR_EXACT_LIMIT values in a plain array and answers exactly as the histogram would — the bucket of the same
 * ranked value — and moves to bucket counts only beyond that, when their size is paid for by the values. The
 * counts are the library's layout, filled without its per-value float arithmetic (hdrbins.ts).
 */

export type SlotKind = 'count' | 'countv' | 'sum' | 'min' | 'max' | 'avg' | 'first' | 'last' | 'distinct' | 'stddev' | 'hdr' | 'freq';

export interface Slot {
  kind: SlotKind;
  /** Index of the argument expression, or -1 for `count` (records, no argument). */
  arg: number;
  /** Numeric input: strings are coerced, anything else is a bad value. */
  numeric: boolean;
}

export interface Output {
  name: string;
  slot: number;
  /** The call as written, for error messages. */
  text: string;
  result(state: unknown): unknown;
}

export interface AggPlan {
  /** Distinct argument expressions, by source text. */
  args: string[];
  slots: Slot[];
  outputs: Output[];
}

export interface AggCall {
  fn: string;
  args: string[];
  alias: string | undefined;
  text: string;
}

// ---- parsing ---------------------------------------------------------------------------------------------------

export const FUNCTION_HINT = 'functions: count, count(expr), sum, min, max, avg, first, last, distinct, stddev, pNN (p50, p99, p99.9), topk(expr, n) — e.g. `aggregate count \'avg(r.latency_ms)\' \'p99(r.latency_ms) as lat\'`';

/**
 * Splits the aggregate arguments into calls. Arguments are joined first, so both `'sum(r.v) as s'` (one shell
 * word) and `sum(r.v) as s` (three) work; parentheses, brackets and quotes inside a call are respected.
 */
export function parseAggCalls(words: string[]): AggCall[] {
  const s = words.join(' ');
  const calls: AggCall[] = [];
  let i = 0;
  const n = s.length;
  const skipSep = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === ',')) i++;
  };
  const skipWs = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n')) i++;
  };
  for (skipSep(); i < n; skipSep()) {
    const from = i;
    const m = /^[A-Za-z_][\w.]*/.exec(s.slice(i));
    if (!m) throw new UsageError(`invalid aggregate \`${s.slice(i).split(/\s/)[0]}\``, FUNCTION_HINT);
    const fn = m[0];
    i += fn.length;
    let args: string[] = [];
    skipWs();
    if (s[i] === '(') {
      const close = matchParen(s, i);
      if (close < 0) throw new UsageError(`unbalanced parentheses in \`${s.slice(from)}\``, FUNCTION_HINT);
      args = splitTopLevel(s.slice(i + 1, close)).map((a) => a.trim());
      if (args.length === 1 && args[0] === '') args = [];
      i = close + 1;
    }
    let alias: string | undefined;
    const save = i;
    skipWs();
    if (s.startsWith('as', i) && /[\s]/.test(s[i + 2] ?? '')) {
      i += 2;
      skipWs();
      const a = /^[^\s,()]+/.exec(s.slice(i));
      if (!a) throw new UsageError(`\`as\` needs a name in \`${s.slice(from).trim()}\``, "for example 'avg(r.latency_ms) as lat'");
      alias = a[0];
      i += alias.length;
    } else {
      i = save;
    }
    calls.push({ fn, args, alias, text: s.slice(from, i).trim() });
  }
  if (calls.length === 0) throw new UsageError('missing aggregate function', FUNCTION_HINT);
  return calls;
}

/** Index of the parenthesis closing the one at `open`, skipping strings and nested brackets; -1 if none. */
function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(s, i);
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

function skipString(s: string, i: number): number {
  const q = s[i];
  for (i++; i < s.length && s[i] !== q; i++) if (s[i] === '\\') i++;
  return i;
}

/** Splits on commas outside brackets and strings (topk(r.page, 3), but not f(a, b) inside an argument). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') i = skipString(s, i);
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(s.slice(from));
  return parts;
}

/**
 * Output names: `fn` without an argument or over `r` itself (`count`, `sum(r)` → `sum`); `fn_field` for a plain
 * path, from its last property (`avg(r.latency_ms)` → `avg_latency_ms`, `max(r.a.b)` → `max_b`); for any other
 * expression a sanitized form of it (`avg(r.a * 2)` → `avg_a_2`). Percentile dots become underscores
 * (`p99.9(r.ms)` → `p99_9_ms`). `as` overrides all of this.
 */
export function outputName(fn: string, args: string[]): string {
  const base = fn.replace(/\./g, '_');
  if (args.length === 0) return base;
  const a = args[0].trim();
  if (a === 'r') return base;
  const path = /^r(?:\??\.[A-Za-z_$][\w$]*)+$/.test(a) ? a.slice(a.lastIndexOf('.') + 1) : undefined;
  if (path) return `${base}_${path}`;
  const quoted = /^r\[\s*(['"])([^'"]*)\1\s*\]$/.exec(a);
  const field = quoted
    ? quoted[2]
    : a.replace(/\br\??\./g, '').replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return field ? `${base}_${field}` : base;
}

const PLAIN = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'distinct', 'stddev', 'topk'];
const RESERVED = new Set(['key', 'window', 'emit']);

/** Builds the plan; every mistake is a UsageError naming the call. */
export function buildPlan(calls: AggCall[]): AggPlan {
  const plan: AggPlan = { args: [], slots: [], outputs: [] };
  const slotIndex = new Map<string, number>();
  const names = new Set<string>();
  const argIndex = (src: string): number => {
    let k = plan.args.indexOf(src);
    if (k < 0) k = plan.args.push(src) - 1;
    return k;
  };
  const slot = (kind: SlotKind, arg: number): number => {
    const id = `${kind}|${arg}`;
    let k = slotIndex.get(id);
    if (k === undefined) {
      const numeric = kind === 'sum' || kind === 'min' || kind === 'max' || kind === 'avg' || kind === 'stddev' || kind === 'hdr';
      k = plan.slots.push({ kind, arg, numeric }) - 1;
      slotIndex.set(id, k);
    }
    return k;
  };

  for (const c of calls) {
    const fn = c.fn.toLowerCase();
    const pct = /^p(\d+(?:\.\d+)?)$/.exec(fn);
    if (!pct && !PLAIN.includes(fn)) {
      const near = fn === 'mean' || fn === 'average' ? 'avg' : fn === 'cnt' ? 'count' : fn === 'uniq' || fn === 'unique' ? 'distinct' : fn === 'percentile' || fn === 'quantile' ? 'p99' : fn === 'std' || fn === 'stdev' ? 'stddev' : undefined;
      throw new UsageError(`unknown aggregate function \`${c.fn}\``, near ? `did you mean \`${near}\`? ${FUNCTION_HINT}` : FUNCTION_HINT);
    }
    const needArgs = (k: number, example: string) => {
      if (c.args.length !== k || c.args.some((a) => a === '')) {
        throw new UsageError(`\`${c.text}\`: \`${fn}\` takes ${k === 1 ? 'one argument' : `${k} arguments`}`, `for example \`${example}\``);
      }
    };
    let out: Output;
    const name = c.alias ?? outputName(fn, c.args);
    if (fn === 'count') {
      if (c.args.length > 1) needArgs(1, 'count(r.user)');
      const k = c.args.length ? slot('countv', argIndex(c.args[0])) : slot('count', -1);
      out = { name, slot: k, text: c.text, result: (s) => s };
    } else if (pct) {
      const q = Number(pct[1]);
      if (!(q >= 0 && q <= 100)) throw new UsageError(`\`${c.fn}\`: percentile must be between 0 and 100`, 'for example p50, p99, p99.9');
      needArgs(1, `${fn}(r.latency_ms)`);
      out = { name, slot: slot('hdr', argIndex(c.args[0])), text: c.text, result: (s) => percentileOf(s as HdrState | undefined, q) };
    } else if (fn === 'topk') {
      needArgs(2, 'topk(r.page, 3)');
      const n = Number(c.args[1]);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`\`${c.text}\`: n must be a whole number >= 1`, 'for example `topk(r.page, 3)`');
      out = { name, slot: slot('freq', argIndex(c.args[0])), text: c.text, result: (s) => topOf(s as FreqState, n) };
    } else {
      needArgs(1, `${fn}(r.latency_ms)`);
      const kind = fn as SlotKind;
      out = { name, slot: slot(kind, argIndex(c.args[0])), text: c.text, result: RESULTS[kind] };
    }
    if (RESERVED.has(out.name)) throw new UsageError(`output name \`${out.name}\` is reserved (key, window and emit are)`, `rename it: '${c.text} as ${out.name}_'`);
    if (names.has(out.name)) throw new UsageError(`two aggregates are named \`${out.name}\``, `rename one with as: '${c.text} as ${out.name}2'`);
    names.add(out.name);
    plan.outputs.push(out);
  }
  return plan;
}

// ---- states ----------------------------------------------------------------------------------------------------

interface AvgState { sum: number; n: number }
interface PickState { has: boolean; v: unknown; t: number; q: number }
interface VarState { n: number; mean: number; m2: number }
type FreqState = Map<unknown, { v: unknown; c: number }>;
interface HdrState {
  /** Recorded (scaled) values while the group is small; undefined once the bucket counts hold them. */
  vals: number[] | undefined;
  sorted: boolean;
  /** HDR bucket counts (hdrbins.ts: the library's layout, recorded without its per-value float math). */
  h: HdrBins | undefined;
  lo: number;
  hi: number;
}

export const HDR_EXACT_LIMIT = 256;

const MAX_RECORDABLE = Math.floor(Number.MAX_SAFE_INTEGER / 2);

/** Whether a percentile can record v (not negative, not beyond the fixed-point range). */
export const hdrRecordable = (v: number): boolean => v >= 0 && Math.round(v * SCALE) <= MAX_RECORDABLE;

/** Distinct values: primitives as themselves (1 and "1" differ), objects and arrays by their JSON text. */
const canon = (v: unknown): unknown => (typeof v === 'object' && v !== null ? '\u0000' + JSON.stringify(v) : v);

function newHdr(): HdrState {
  return { vals: [], sorted: true, h: undefined, lo: Infinity, hi: -Infinity };
}

function toHistogram(s: HdrState): void {
  // Room up to 8× the largest value so far: later values rarely make the counts grow.
  const h = new HdrBins(Math.min(Math.round(s.hi * SCALE) * 8, MAX_RECORDABLE));
  for (const x of s.vals!) h.record(x);
  s.h = h;
  s.vals = undefined;
}

function percentileOf(s: HdrState | undefined, p: number): number | null {
  if (s === undefined) return null;
  if (p >= 100) return s.hi;
  // What JsHistogram.getValueAtPercentile computes: the bucket of the ceil(p% · n)-th smallest value.
  let v: number;
  if (s.h) {
    // getValueAtPercentile answers with an end of the bucket found, not the index's own value.
    const at = s.h.valueAtRank(rankAt(p, s.h.total));
    v = p === 0 ? bucketLow(at) : bucketHigh(at);
  } else {
    const vals = s.vals!;
    if (!s.sorted) {
      vals.sort((a, b) => a - b);
      s.sorted = true;
    }
    v = vals[Math.min(rankAt(p, vals.length), vals.length) - 1];
  }
  const x = shortestIn(bucketLow(v), bucketHigh(v)) / SCALE;
  return Math.min(s.hi, Math.max(s.lo, x));
}

export function initState(kind: SlotKind): unknown {
  switch (kind) {
    case 'count': case 'countv': case 'sum': return 0;
    case 'min': case 'max': case 'hdr': return undefined;
    case 'avg': return { sum: 0, n: 0 } satisfies AvgState;
    case 'first': case 'last': return { has: false, v: undefined, t: 0, q: 0 } satisfies PickState;
    case 'distinct': return new Set<unknown>();
    case 'stddev': return { n: 0, mean: 0, m2: 0 } satisfies VarState;
    case 'freq': return new Map() as FreqState;
  }
}

type Update = (s: any, v: any, t: number, q: number) => unknown;

/** Per kind: adds one (already validated, non-null) value; `t` = event time, `q` = arrival sequence. Returns the state. */
const UPDATE: Record<SlotKind, Update> = {
  count: (s) => s + 1,
  countv: (s) => s + 1,
  sum: (s, v) => s + v,
  min: (s, v) => (s === undefined || v < s ? v : s),
  max: (s, v) => (s === undefined || v > s ? v : s),
  avg: (s: AvgState, v: number) => {
    s.sum += v;
    s.n++;
    return s;
  },
  first: (s: PickState, v, t, q) => {
    if (!s.has || t < s.t || (t === s.t && q < s.q)) { s.has = true; s.v = v; s.t = t; s.q = q; }
    return s;
  },
  last: (s: PickState, v, t, q) => {
    if (!s.has || t > s.t || (t === s.t && q > s.q)) { s.has = true; s.v = v; s.t = t; s.q = q; }
    return s;
  },
  distinct: (s: Set<unknown>, v) => s.add(canon(v)),
  stddev: (s: VarState, v: number) => {
    // Welford: stable for long streams of large, close values.
    s.n++;
    const d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
    return s;
  },
  hdr: (s: HdrState | undefined, v: number) => {
    const x = Math.round(v * SCALE);
    if (!(v >= 0 && x <= MAX_RECORDABLE)) return s;
    const st: HdrState = s ?? newHdr();
    if (st.h) st.h.record(x);
    else {
      st.vals!.push(x);
      st.sorted = false;
      if (st.vals!.length > HDR_EXACT_LIMIT) toHistogram(st);
    }
    if (v < st.lo) st.lo = v;
    if (v > st.hi) st.hi = v;
    return st;
  },
  freq: (s: FreqState, v) => {
    const k = canon(v);
    const e = s.get(k);
    if (e) e.c++;
    else s.set(k, { v, c: 1 });
    return s;
  },
};

/** Adds one (already validated, non-null) value; `t` = event time, `q` = arrival sequence. Returns the state. */
export function addValue(kind: SlotKind, s: any, v: any, t: number, q: number): unknown {
  return UPDATE[kind](s, v, t, q);
}

/** Adds a record's slot inputs (`skip` marks inputs left out) to an accumulator's states. */
export type Adder = (states: unknown[], inp: readonly unknown[], t: number, q: number) => void;

/**
 * The adder of a plan: straight-line code over its slots, one call per slot to that slot's update function, so
 * every call site sees a single function (V8 inlines it) — no dispatch on the kind per value.
 */
export function compileAdder(slots: readonly Slot[], skip: unknown): Adder {
  let body = 'let x;\n';
  for (let i = 0; i < slots.length; i++) body += `x = inp[${i}]; if (x !== skip) states[${i}] = u${i}(states[${i}], x, t, q);\n`;
  const names = slots.map((_, i) => `u${i}`);
  const make = new Function('skip', ...names, `return function add(states, inp, t, q) {\n${body}};`);
  return make(skip, ...slots.map((sl) => UPDATE[sl.kind])) as Adder;
}

/** Turns a record's argument values into slot inputs; false when a value needs the careful path. */
export type Converter = (vals: readonly unknown[], inp: unknown[]) => boolean;

/**
 * The common case of checking slot inputs, as straight-line code per plan: null/undefined skipped, finite numbers
 * taken, percentile inputs well inside the recordable range. Anything else (numeric strings, NaN, negatives or
 * huge values for percentiles) returns false, and the caller takes the general path with its error handling.
 */
export function compileConverter(slots: readonly Slot[], skip: unknown): Converter {
  let body = 'let x;\n';
  for (let i = 0; i < slots.length; i++) {
    const sl = slots[i];
    if (sl.arg < 0) { body += `inp[${i}] = true;\n`; continue; }
    body += `x = vals[${sl.arg}];\nif (x === null || x === undefined) inp[${i}] = skip;\n`;
    if (!sl.numeric) body += `else inp[${i}] = x;\n`;
    else if (sl.kind === 'hdr') body += `else if (typeof x === 'number' && x >= 0 && x < 4e12) inp[${i}] = x;\nelse return false;\n`;
    else body += `else if (typeof x === 'number' && x - x === 0) inp[${i}] = x;\nelse return false;\n`;
  }
  return new Function('skip', `return function convert(vals, inp) {\n${body}return true;\n};`)(skip) as Converter;
}

/** Merges b into a (a may be modified; b is left as it was). */
export function mergeState(kind: SlotKind, a: any, b: any): unknown {
  switch (kind) {
    case 'count': case 'countv': case 'sum': return a + b;
    case 'min': return a === undefined || (b !== undefined && b < a) ? b : a;
    case 'max': return a === undefined || (b !== undefined && b > a) ? b : a;
    case 'avg': a.sum += b.sum; a.n += b.n; return a;
    case 'first':
      if (b.has && (!a.has || b.t < a.t || (b.t === a.t && b.q < a.q))) Object.assign(a, b);
      return a;
    case 'last':
      if (b.has && (!a.has || b.t > a.t || (b.t === a.t && b.q > a.q))) Object.assign(a, b);
      return a;
    case 'distinct': for (const v of b) a.add(v); return a;
    case 'stddev': {
      // Chan et al.: combine two Welford states exactly.
      if (b.n === 0) return a;
      if (a.n === 0) return { ...b };
      const n = a.n + b.n;
      const d = b.mean - a.mean;
      return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n };
    }
    case 'hdr':
      if (b === undefined) return a;
      if (a === undefined) return cloneState(kind, b);
      if (!a.h && !b.h && a.vals.length + b.vals.length <= HDR_EXACT_LIMIT) {
        for (const x of b.vals) a.vals.push(x);
        a.sorted = false;
      } else {
        if (!a.h) toHistogram(a);
        if (b.h) a.h.add(b.h);
        else for (const x of b.vals) a.h.record(x);
      }
      if (b.lo < a.lo) a.lo = b.lo;
      if (b.hi > a.hi) a.hi = b.hi;
      return a;
    case 'freq':
      for (const [k, e] of b as FreqState) {
        const x = a.get(k);
        if (x) x.c += e.c;
        else a.set(k, { v: e.v, c: e.c });
      }
      return a;
  }
}

/** The state will not be used again (its window closed or merged away): pooled memory goes back. */
export function releaseState(kind: SlotKind, s: any): void {
  if (kind === 'hdr' && s !== undefined && s.h !== undefined) {
    s.h.release();
    s.h = undefined;
    s.vals = [];
  }
}

export function cloneState(kind: SlotKind, s: any): unknown {
  switch (kind) {
    case 'count': case 'countv': case 'sum': case 'min': case 'max': return s;
    case 'avg': case 'first': case 'last': case 'stddev': return { ...s };
    case 'distinct': return new Set(s);
    case 'hdr': {
      if (s === undefined) return undefined;
      return { vals: s.vals?.slice(), sorted: s.sorted, h: s.h?.clone(), lo: s.lo, hi: s.hi } satisfies HdrState;
    }
    case 'freq': {
      const m: FreqState = new Map();
      for (const [k, e] of s as FreqState) m.set(k, { v: e.v, c: e.c });
      return m;
    }
  }
}

/**
 * A state as JSON for the state changelog (StatefulStage), and back: what a restarted run needs to continue the
 * aggregate exactly — sums, Welford moments, first/last with their time and arrival order, distinct values,
 * percentile values or bucket counts, value frequencies.
 */
export function stateToJson(kind: SlotKind, s: any): unknown {
  switch (kind) {
    case 'count': case 'countv': case 'sum': return s;
    case 'min': case 'max': return s === undefined ? null : s;
    case 'avg': case 'stddev': return s;
    case 'first': case 'last': return s.has ? [s.v === undefined ? null : s.v, s.t, s.q] : null;
    case 'distinct': return [...(s as Set<unknown>)];
    case 'hdr': {
      if (s === undefined) return null;
      const h = s as HdrState;
      return h.h ? { lo: h.lo, hi: h.hi, bins: h.h.toSparse() } : { lo: h.lo, hi: h.hi, vals: h.vals };
    }
    case 'freq': return [...(s as FreqState).values()].map((e) => [e.v, e.c]);
  }
}

export function stateFromJson(kind: SlotKind, j: any): unknown {
  switch (kind) {
    case 'count': case 'countv': case 'sum': return typeof j === 'number' ? j : 0;
    case 'min': case 'max': return j === null ? undefined : j;
    case 'avg': return { sum: Number(j?.sum) || 0, n: Number(j?.n) || 0 } satisfies AvgState;
    case 'stddev': return { n: Number(j?.n) || 0, mean: Number(j?.mean) || 0, m2: Number(j?.m2) || 0 } satisfies VarState;
    case 'first': case 'last':
      return Array.isArray(j) ? ({ has: true, v: j[0], t: j[1], q: j[2] } satisfies PickState) : initState(kind);
    case 'distinct': return new Set(Array.isArray(j) ? j : []);
    case 'hdr': {
      if (j === null || typeof j !== 'object') return undefined;
      const st: HdrState = { vals: undefined, sorted: false, h: undefined, lo: j.lo, hi: j.hi };
      if (Array.isArray(j.bins)) st.h = HdrBins.fromSparse(j.bins, Math.min(Math.round(j.hi * SCALE) * 8, MAX_RECORDABLE));
      else st.vals = Array.isArray(j.vals) ? j.vals : [];
      return st;
    }
    case 'freq': {
      const m: FreqState = new Map();
      if (Array.isArray(j)) for (const [v, c] of j) m.set(canon(v), { v, c });
      return m;
    }
  }
}

const RESULTS: Record<string, (s: any) => unknown> = {
  sum: (s) => s,
  min: (s) => s ?? null,
  max: (s) => s ?? null,
  avg: (s: AvgState) => (s.n ? s.sum / s.n : null),
  first: (s: PickState) => (s.has ? s.v : null),
  last: (s: PickState) => (s.has ? s.v : null),
  distinct: (s: Set<unknown>) => s.size,
  // Population standard deviation (divides by n): the spread of the values seen, as HDR and numpy report it.
  stddev: (s: VarState) => (s.n ? Math.sqrt(Math.max(0, s.m2) / s.n) : null),
};

/** The n most frequent values, most frequent first; ties by the value's JSON text, so the order is stable. */
function topOf(s: FreqState, n: number): { value: unknown; count: number }[] {
  const all = [...s.values()];
  all.sort((a, b) => b.c - a.c || cmpText(a.v, b.v));
  const res: { value: unknown; count: number }[] = [];
  for (let i = 0; i < all.length && i < n; i++) res.push({ value: all[i].v, count: all[i].c });
  return res;
}

function cmpText(a: unknown, b: unknown): number {
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A numeric input: a finite number or a numeric string; NaN for anything else. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'string') {
    if (v.trim() === '') return NaN;
    const x = Number(v);
    return Number.isFinite(x) ? x : NaN;
  }
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}
