import type { Rec } from '../pipeline/record.js';
import type { FieldNeeds, Stage } from '../pipeline/stage.js';
import { errorCounters, type RecordErrors } from '../pipeline/onerror.js';
import { exprFailure, type Expr } from './expr.js';

/**
 * The loop map, filter and flatmap share: evaluate the expression on each data record (controls pass through),
 * route a throw to the record-error policy, and hand the result to the stage's `emit`.
 */
export abstract class ExprStage implements Stage {
  abstract readonly name: string;
  abstract readonly keepsValue: boolean;
  readonly stateless = true;
  readonly reads: FieldNeeds;

  constructor(protected readonly expr: Expr, protected readonly errors: RecordErrors) {
    this.reads = expr.needs;
  }

  protected abstract emit(rec: Rec, result: unknown, out: Rec[]): void;

  /**
   * Whether a result can be a record's value, and else sends the record to the --on-error policy: a BigInt, a
   * function or a symbol has no JSON form (JSON.stringify throws on the one and silently drops the others), so the
   * record would fail at the writer or change without a word.
   */
  protected writable(rec: Rec, v: unknown): boolean {
    const t = typeof v;
    if (t !== 'bigint' && t !== 'function' && t !== 'symbol') return true;
    const fix = t === 'bigint' ? ' — convert it with Number(…) or String(…)' : '';
    this.errors.handle(rec.where(), `${this.expr.role} \`${this.expr.source}\` returned a ${t}, which JSON cannot hold${fix}`, rec.raw ?? rec.value);
    return false;
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
      this.emit(rec, v, out);
    }
  }

  counters(): Record<string, number> {
    return errorCounters(this.errors);
  }
}
