import type { Rec } from '../pipeline/record.js';
import { ExprStage } from './exprstage.js';

/** One output record per element of the array the expression returns; null/undefined yields none. */
export class FlatMapStage extends ExprStage {
  readonly name = 'flatmap';
  readonly keepsValue = false;

  protected emit(rec: Rec, v: unknown, out: Rec[]): void {
    if (v === null || v === undefined) return;
    if (!Array.isArray(v)) {
      this.errors.handle(rec.where(), `${this.expr.role} \`${this.expr.source}\` returned ${typeof v}, not an array`, rec.raw ?? rec.value);
      return;
    }
    // all or nothing: a record whose results cannot all be written is set aside whole, as any record error is
    for (let k = 0; k < v.length; k++) if (!this.writable(rec, v[k])) return;
    for (let k = 0; k < v.length; k++) out.push(rec.derive(v[k] === undefined ? null : v[k]));
  }
}
