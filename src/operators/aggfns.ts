import { UsageError } from '../pipeline/errors.js';
import { FUNCTIONS, lookupFunction, type AggFunction } from './aggregate/functions/index.js';

export { HDR_EXACT_LIMIT, hdrRecordable } from './aggregate/functions/percentile.js';

/**
 * Aggregate calls (docs/semantics.md "Aggregate functions"): what `aggregate count 'avg(r.ms)' 'p99(r.ms) as lat'`
 * means, parsed into a plan of state slots and named outputs. The functions themselves are objects, one file
 * each, in aggregate/functions/.
 *
 * Outputs read a slot: p50 and p99 of the same expression share one histogram, and sum/avg of one field each keep
 * their own cheap state.
 *
 * Values: null and missing values are skipped by every function but `count`. Numeric functions take numbers and
 * numeric strings ("12.5"); anything else is a bad record (the stage's --on-error policy decides).
 */
export interface Slot {
  /** The function whose state the slot holds (the first call that asked for it). */
  fn: AggFunction;
  /** The state's name (AggFunction.state): saved in the changelog signature. */
  kind: string;
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

export const FUNCTION_HINT = `functions: ${FUNCTIONS.map((f) => f.usage).join(', ')} — e.g. \`aggregate count 'avg(r.latency_ms)' 'p99(r.latency_ms) as lat'\``;

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
  const slot = (fn: AggFunction, argSrc: string | undefined): number => {
    const arg = argSrc === undefined ? -1 : argIndex(argSrc);
    const kind = fn.state(argSrc);
    const id = `${kind}|${arg}`;
    let k = slotIndex.get(id);
    if (k === undefined) {
      k = plan.slots.push({ fn, kind, arg, numeric: fn.numeric !== false }) - 1;
      slotIndex.set(id, k);
    }
    return k;
  };

  for (const c of calls) {
    const found = lookupFunction(c.fn);
    if (!found) {
      const fn = c.fn.toLowerCase();
      const near = fn === 'mean' || fn === 'average' ? 'avg' : fn === 'cnt' ? 'count' : fn === 'uniq' || fn === 'unique' ? 'distinct' : fn === 'percentile' || fn === 'quantile' ? 'p99' : fn === 'std' || fn === 'stdev' ? 'stddev' : undefined;
      throw new UsageError(`unknown aggregate function \`${c.fn}\``, near ? `did you mean \`${near}\`? ${FUNCTION_HINT}` : FUNCTION_HINT);
    }
    const { fn } = found;
    const { arg, param } = fn.parse(c, found.param);
    const name = c.alias ?? outputName(c.fn.toLowerCase(), c.args);
    const out: Output = { name, slot: slot(fn, arg), text: c.text, result: (st) => fn.result(st, param) };
    if (RESERVED.has(out.name)) throw new UsageError(`output name \`${out.name}\` is reserved (key, window and emit are)`, `rename it: '${c.text} as ${out.name}_'`);
    if (names.has(out.name)) throw new UsageError(`two aggregates are named \`${out.name}\``, `rename one with as: '${c.text} as ${out.name}2'`);
    names.add(out.name);
    plan.outputs.push(out);
  }
  return plan;
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
  return make(skip, ...slots.map((sl) => sl.fn.add)) as Adder;
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
    else if (sl.fn.numeric === 'recordable') body += `else if (typeof x === 'number' && x >= 0 && x < 4e12) inp[${i}] = x;\nelse return false;\n`;
    else body += `else if (typeof x === 'number' && x - x === 0) inp[${i}] = x;\nelse return false;\n`;
  }
  return new Function('skip', `return function convert(vals, inp) {\n${body}return true;\n};`)(skip) as Converter;
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
