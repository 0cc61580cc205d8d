import type { Rec } from '../pipeline/record.js';
import { ExprStage } from './exprstage.js';

/**
 * Replaces each record's value with the expression's result. `undefined` becomes null, so a fused run hands the
 * next stage exactly what a piped run would read back from the NDJSON line.
 */
export class MapStage extends ExprStage {
  readonly name = 'map';
  readonly keepsValue = false;

  protected emit(rec: Rec, v: unknown, out: Rec[]): void {
    if (!this.writable(rec, v)) return;
    rec.setValue(v === undefined ? null : v);
    out.push(rec);
  }
}
