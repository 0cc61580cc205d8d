import type { Rec } from '../pipeline/record.js';
import { ExprStage } from './exprstage.js';

/** Keeps records for which the expression is truthy (JavaScript truthiness). The record passes on untouched. */
export class FilterStage extends ExprStage {
  readonly name = 'filter';
  readonly keepsValue = true;

  protected emit(rec: Rec, keep: unknown, out: Rec[]): void {
    if (keep) out.push(rec);
  }
}

export { errorCounters } from '../pipeline/onerror.js';
