import { UsageError } from '../../../pipeline/errors.js';

/**
 * One aggregate function (docs/semantics.md "Aggregate functions") as an object: its partial state and everything done
 * with it. A function is one file in this folder and one entry in index.ts; nothing else changes to add one.
 *
 * Methods never use `this`: the aggregate compiles a plan's `add` calls into straight-line code (aggfns.ts
 * compileAdder), which takes them as plain functions.
 */
export interface AggFunction<S = any> {
  /** The name a call uses (`avg`); functions named by a pattern (`p99`) also have `match`. */
  readonly name: string;
  /** How a call looks, for help and hints. */
  readonly usage: string;
  /** For functions named by a pattern: the parameter the name carries (p99.9 → 99.9), or undefined for no match. */
  match?(name: string): unknown;
  /**
   * The call's argument expression (undefined for none, as `count`) and parameter (topk's n), or a UsageError.
   * `param` is what `match` found in the name, if anything.
   */
  parse(call: AggCallText, param: unknown): { arg: string | undefined; param: unknown };
  /**
   * Inputs: `false` takes any non-null value; `finite` finite numbers (numeric strings are coerced);
   * `recordable` numbers an HDR histogram can record (≥ 0 and within its fixed-point range), others counted.
   */
  readonly numeric: false | 'finite' | 'recordable';
  /**
   * Calls of functions with the same state over the same argument keep one state (p50 and p99 of r.ms share one
   * histogram): the state's name, saved with the changelog signature.
   */
  state(arg: string | undefined): string;
  init(): S;
  /** Adds one validated, non-null value; `t` = event time, `q` = arrival sequence. Returns the state. */
  add(s: S, v: any, t: number, q: number): S;
  /** Merges b into a (a may be changed; b is left as it was). Returns the state. */
  merge(a: S, b: S): S;
  clone(s: S): S;
  /** The state will not be used again: pooled memory goes back. */
  release?(s: S): void;
  /** The state as JSON for the state changelog, and back. */
  toJson(s: S): unknown;
  fromJson(j: unknown): S;
  /** The output value of a state (`param` from `parse`). */
  result(s: S, param: unknown): unknown;
}

export interface AggCallText {
  fn: string;
  args: string[];
  text: string;
}

/** The one argument of a call such as `avg(r.ms)`; a UsageError naming the call otherwise. */
export function oneArg(c: AggCallText, example: string): string {
  return nArgs(c, 1, example)[0];
}

export function nArgs(c: AggCallText, k: number, example: string): string[] {
  if (c.args.length !== k || c.args.some((a) => a === '')) {
    throw new UsageError(`\`${c.text}\`: \`${c.fn.toLowerCase()}\` takes ${k === 1 ? 'one argument' : `${k} arguments`}`, `for example \`${example}\``);
  }
  return c.args;
}

/** Distinct values: primitives as themselves (1 and "1" differ), objects and arrays by their JSON text. */
export const canon = (v: unknown): unknown => (typeof v === 'object' && v !== null ? '\u0000' + JSON.stringify(v) : v);

/**
 * What a function of one argument, named by its state, has besides its state operations: `sum(expr)`,
 * `avg(expr)`, … (`example` is the call shown when one is written wrongly).
 */
export function unary(name: string, example: string): Pick<AggFunction, 'name' | 'usage' | 'parse' | 'state'> {
  return { name, usage: `${name}(expr)`, parse: (c) => ({ arg: oneArg(c, example), param: undefined }), state: () => name };
}

/** For states that are one number or a value kept as it is. */
export const same = <T>(s: T): T => s;
