import type { Header, Rec } from '../pipeline/record.js';
import type { Carried, FieldNeeds } from '../pipeline/stage.js';
import { UsageError } from '../pipeline/errors.js';
import { bindsName, fieldsRead, type ContextName } from './fields.js';

/**
 * User expressions: JavaScript over `r` (the record value) with `key`, `ts` and `headers` in scope, compiled once
 * into a plain function. `needs` tells the decoder which fields of r to materialise.
 */
export interface Expr {
  readonly source: string;
  readonly role: string;
  readonly needs: FieldNeeds;
  /** The context variables beside `r` that the expression reads. */
  readonly uses: ReadonlySet<ContextName>;
  readonly fn: (r: any, key: unknown, ts: number | undefined, headers: Header[] | undefined) => unknown;
}

export const EXPR_HINT = "expressions are JavaScript over r (the record value), key, ts and headers, e.g. 'r.latency_ms > 50'";

/**
 * Compiles an expression. With `carries` (what the run's records carry besides their value), an expression that
 * reads `key`, `ts` or `headers` where records have none is refused before the run: it would see `undefined`.
 */
export function compileExpr(source: string, role: string, carries?: Carried, fused = false): Expr {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new UsageError(`missing ${role}`, EXPR_HINT);
  }
  let fn: Expr['fn'];
  try {
    // The newline keeps a trailing // comment from swallowing the closing parenthesis.
    fn = new Function('r', 'key', 'ts', 'headers', `"use strict"; return (${source}\n);`) as Expr['fn'];
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(`invalid ${role} \`${source}\`: ${msg}`, EXPR_HINT);
  }
  const uses = new Set<ContextName>();
  const needs = fieldsRead(source, 'r', uses);
  if (carries) {
    for (const name of uses) {
      if (!carries[name] && !bindsName(source, name)) throw new UsageError(`${role} \`${source}\` reads \`${name}\`, which ${carries.what ?? 'records read from a pipe'} do not carry`, carryHint(fused));
    }
  }
  return { source, role, needs, uses, fn };
}

/** A stage that needs event time, where records carry no timestamp and no --time or --processing-time was given. */
export const NO_TIME = (stage: string, c: Carried) => `\`${stage}\` needs an event time, and ${c.what ?? 'records read from a pipe'} carry no timestamp`;
export const timeHint = (fused: boolean): string =>
  `take it from the record with --time r.<field>, read envelopes (\`kstream consume … --format envelope | kstream <stage> … --envelope\`)${fused ? '' : ', fuse the stages with `+` after `consume`'}, or ask for the wall clock with --processing-time`;

/** How records get a key, timestamp and headers into a stage: the fix named whenever one is missing. */
export const carryHint = (fused: boolean): string =>
  `read envelopes (\`kstream consume … --format envelope | kstream <stage> … --envelope\`)${fused ? '' : ', or fuse the stages with `+` after `consume` (`kstream consume … + <stage> …`)'}`;

/** Evaluate on a record, parsing the full value first when the expression needs more than the decoded view. */
export function evalExpr(e: Expr, rec: Rec): unknown {
  const v = e.needs === 'all' && rec.partial ? rec.fullValue() : rec.value;
  return e.fn(v, rec.key, rec.ts, rec.headers);
}

/** The message for an expression that threw on one record; ReferenceErrors get a hint about `r.`. */
export function exprFailure(e: Expr, err: unknown): string {
  const name = err instanceof Error ? err.name : 'Error';
  const msg = err instanceof Error ? err.message : String(err);
  let hint = '';
  if (err instanceof ReferenceError) {
    const m = /^(\S+) is not defined/.exec(msg);
    if (m) hint = ` — fields are under r, e.g. r.${m[1]}${e.role === 'key expression' ? `; for the text \`${m[1]}\` as every record's key: --key-literal ${m[1]}` : ''}`;
  }
  return `${e.role} \`${e.source}\` threw ${name}: ${msg}${hint}`;
}
