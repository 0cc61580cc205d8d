import type { Header, Rec } from '../pipeline/record.js';
import type { FieldNeeds } from '../pipeline/stage.js';
import { UsageError } from '../pipeline/errors.js';
import { fieldsRead } from './fields.js';

/**
 * User expressions: JavaScript over `r` (the record value) with `key`, `ts` and `headers` in scope, compiled once
 * into a plain function. `needs` tells the decoder which fields of r to materialise.
 */
export interface Expr {
  readonly source: string;
  readonly role: string;
  readonly needs: FieldNeeds;
  readonly fn: (r: any, key: unknown, ts: number | undefined, headers: Header[] | undefined) => unknown;
}

export const EXPR_HINT = "expressions are JavaScript over r (the record value), key, ts and headers, e.g. 'r.latency_ms > 50'";

export function compileExpr(source: string, role: string): Expr {
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
  return { source, role, needs: fieldsRead(source), fn };
}

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
    if (m) hint = ` — fields are under r, e.g. r.${m[1]}`;
  }
  return `${e.role} \`${e.source}\` threw ${name}: ${msg}${hint}`;
}
