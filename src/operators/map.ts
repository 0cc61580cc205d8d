import type { Rec } from '../pipeline/record.js';
import type { FieldNeeds, Stage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';
import { errorCounters } from './filter.js';

/**
 * Replaces each record's value with the expression's result. `undefined` becomes null, so a fused run hands the
 * next stage exactly what a piped run would read back from the NDJSON line.
 */
export class MapStage implements Stage {
  readonly name = 'map';
  readonly stateless = true;
  readonly keepsValue = false;
  readonly reads: FieldNeeds;

  constructor(private readonly expr: Expr, private readonly errors: RecordErrors) {
    this.reads = expr.needs;
  }

  process(batch: Rec[], out: Rec[]): void {
    const fn = this.expr.fn;
    const all = this.expr.needs === 'all';
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) { out.push(rec); continue; }
      let v: unknown;
      try {
        v = fn(all && rec.partial ? rec.fullValue() : rec.value, rec.key, rec.ts, rec.headers);
      } catch (err) {
        this.errors.handle(rec.where(), exprFailure(this.expr, err), rec.raw ?? rec.value);
        continue;
      }
      rec.setValue(v === undefined ? null : v);
      out.push(rec);
    }
  }

  counters(): Record<string, number> {
    return errorCounters(this.errors);
  }
}
