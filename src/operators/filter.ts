import type { Rec } from '../pipeline/record.js';
import type { FieldNeeds, Stage } from '../pipeline/stage.js';
import type { RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';

/** Keeps records for which the expression is truthy (JavaScript truthiness). The record passes on untouched. */
export class FilterStage implements Stage {
  readonly name = 'filter';
  readonly stateless = true;
  readonly keepsValue = true;
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
      let keep: unknown;
      try {
        keep = fn(all && rec.partial ? rec.fullValue() : rec.value, rec.key, rec.ts, rec.headers);
      } catch (err) {
        this.errors.handle(rec.where(), exprFailure(this.expr, err), rec.raw ?? rec.value);
        continue;
      }
      if (keep) out.push(rec);
    }
  }

  counters(): Record<string, number> {
    return errorCounters(this.errors);
  }
}

export function errorCounters(errors: RecordErrors): Record<string, number> {
  if (!errors.count) return {};
  return { [errors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: errors.count };
}
