import type { Rec } from './record.js';
import type { RunMetrics } from '../report/run-metrics.js';
import { now } from '../runtime.js';
import { isStateful, mergeNeeds, type FieldNeeds, type Stage, type StatefulStage } from './stage.js';

/**
 * A batch's way through a failing stage: the records the chain produced before the failing record still go
 * through the rest of the chain and reach the sink before the failure surfaces, as they would have one by one.
 */
export class PartialFailure {
  constructor(readonly out: Rec[], readonly error: unknown) {}
}

/**
 * The stages of one run, in order, and everything that moves records through them: a batch, a clock tick, the
 * end of input, a checkpoint's drain of changed state, the exit counters. Every driver — the runner
 * (runner.ts), the worker threads (chunk.ts), the in-process bench (inprocess.ts) and the Kafka bench
 * (kafka/bench.ts) — pushes through this one class, so what a bench measures is what a run does. Synchronous by
 * design: the drivers own every await.
 */
export class Chain {
  /** The stages whose state a checkpoint saves; a StateBackend numbers them in this order. */
  readonly stateful: StatefulStage[];
  private readonly tickers: number[];
  /** With --metrics: each stage's time over each batch is observed here (two clock reads per stage and batch). */
  metrics: RunMetrics | undefined;

  constructor(readonly stages: Stage[]) {
    this.stateful = stages.filter(isStateful);
    this.tickers = stages.map((s, i) => (s.tick ? i : -1)).filter((i) => i >= 0);
  }

  get length(): number {
    return this.stages.length;
  }

  /** Whether any stage wants clock ticks (processing-time windows, idle flushes). */
  get ticks(): boolean {
    return this.tickers.length > 0;
  }

  /**
   * The fields the decoder must materialise: whatever stages read until one of them replaces the value, then
   * what the sink reads (a key or timestamp expression of `produce`).
   */
  plan(sinkReads: FieldNeeds = 'none'): FieldNeeds {
    let plan: FieldNeeds = 'none';
    for (const st of this.stages) {
      plan = mergeNeeds(plan, st.reads);
      if (!st.keepsValue) return plan;
    }
    return mergeNeeds(plan, sinkReads);
  }

  /** Stages with side inputs load them, in order, before the first batch. */
  async open(how?: { quiet?: boolean }): Promise<void> {
    for (const st of this.stages) await st.open?.(how);
  }

  /** End of input: stages with a bounded second input read it to its end first (Stage.settle), in order. */
  async settle(): Promise<void> {
    for (const st of this.stages) await st.settle?.();
  }

  /** Every stage releases its side inputs, also after a failure; the first error is thrown after all were tried. */
  async close(): Promise<void> {
    let failure: unknown;
    for (const st of this.stages) {
      try {
        await st.close?.();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Pushes a batch through stages[from..]. */
  push(batch: Rec[], from = 0): Rec[] | PartialFailure {
    const { stages } = this;
    let cur = batch;
    let failure: unknown;
    const { metrics } = this;
    for (let i = from; i < stages.length && cur.length > 0; i++) {
      const out: Rec[] = [];
      const t0 = metrics ? now() : 0;
      try {
        stages[i].process(cur, out);
      } catch (e) {
        if (failure === undefined) failure = e;
      }
      if (metrics) metrics.stageBatch(i, (now() - t0) / 1000);
      cur = out;
    }
    return failure === undefined ? cur : new PartialFailure(cur, failure);
  }

  /** A clock tick: what each ticking stage emits, through the stages after it, in stage order. */
  tick(now: number): Rec[] | PartialFailure {
    let all: Rec[] = [];
    for (const i of this.tickers) {
      const out: Rec[] = [];
      try {
        this.stages[i].tick!(now, out);
      } catch (e) {
        return new PartialFailure(all, e);
      }
      const res = this.push(out, i + 1);
      if (res instanceof PartialFailure) return new PartialFailure(all.concat(res.out), res.error);
      all = all.length ? all.concat(res) : res;
    }
    return all;
  }

  /**
   * End of input (or a requested stop): every stage flushes what it holds into the next one, in order. With
   * `keepState` (a stop whose state is checkpointed) stateful stages are suspended instead — open windows stay
   * open in the saved state, for the restarted run to go on.
   */
  end(keepState = false): Rec[] {
    let carry: Rec[] = [];
    for (const st of this.stages) {
      const out: Rec[] = [];
      if (carry.length) st.process(carry, out);
      if (keepState && st.suspendInto) st.suspendInto(out);
      else if (keepState && isStateful(st)) st.suspend?.();
      else st.end?.(out);
      carry = out;
    }
    return carry;
  }

  /** The entries each stateful stage changed since the last drain, by its index in `stateful`. */
  drainChanges(): { stage: number; entries: [string, unknown][] }[] {
    return this.stateful.map((st, stage) => ({ stage, entries: st.drainChanges() })).filter((c) => c.entries.length);
  }

  /** Each stage's counters, by name, for the exit report and --json summaries. */
  counters(): Record<string, Record<string, number>> {
    const res: Record<string, Record<string, number>> = {};
    for (const st of this.stages) {
      const c = st.counters?.();
      if (c) res[st.name] = c;
    }
    return res;
  }
}
