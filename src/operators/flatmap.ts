import type { Rec } from '../pipeline/record.js';
import type { FieldNeeds, Stage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';
import { errorCounters } from './filter.js';

/** One output record per element of the array the expression returns; null/undefined yields none. */
export class FlatMapStage implements Stage {
  readonly name = 'flatmap';
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
      if (v === null || v === undefined) continue;
      if (!Array.isArray(v)) {
        this.errors.handle(rec.where(), `${this.expr.role} \`${this.expr.source}\` returned ${typeof v}, not an array`, rec.raw ?? rec.value);
        continue;
      }
      for (let k = 0; k < v.length; k++) out.push(rec.derive(v[k] === undefined ? null : v[k]));
    }
  }

  counters(): Record<string, number> {
    return errorCounters(this.errors);
  }
}
