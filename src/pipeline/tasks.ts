import { Rec, WATERMARK, type SourceRef } from './record.js';
import { Chain, PartialFailure } from './chain.js';
import { DEFAULT_IDLE_MS } from '../time/watermark.js';
import { isStateful, mergeNeeds, type Carried, type FieldNeeds, type PartMetrics, type Stage, type TaskChanges, type TaskedStages } from './stage.js';

/** What a record's source says of the task it belongs to: its input partition (a Kafka source's PartitionRef). */
interface PartitionSource extends SourceRef {
  readonly partition: number;
}

function taskOf(rec: Rec): number | undefined {
  const p = (rec.src as PartitionSource | undefined)?.partition;
  return typeof p === 'number' ? p : undefined;
}

/**
 * The stateful span of a run, once per input partition: Kafka Streams' tasks.
 *
 * Each task (an input partition: a tasked run reads one topic) has its own
 * instances of the span's stages, built by `make`, so its windows, accumulators and remembered ids — and its stream
 * time — belong to it alone, and are checkpointed to the changelog partition of the same number. That is what lets
 * several processes in one group split a stateful job: a process holds only the tasks of the partitions it is
 * assigned, restores just those on assignment (KafkaSource) and drops them when they are revoked.
 *
 * A batch's records go to their task's chain in order (a Kafka batch is runs of one partition each); the outputs
 * follow in the same order. A task sees one partition, so its stream time is that partition's: the rule of several
 * input partitions (docs/semantics.md) holds inside each task. Watermarks leaving the span are the least of the
 * tasks' (never moving back), so a stage after it sees one monotonic stream time; other controls (the window
 * announcement) go out once.
 */
export class Tasks implements TaskedStages {
  readonly name: string;
  readonly reads: FieldNeeds;
  readonly keepsValue: boolean;
  readonly gives?: Partial<Carried>;
  /** The span's stateful stages, by name, in order: what each task's changelog entries are numbered by. */
  readonly keeps: string[];
  private readonly tasks = new Map<number, Chain>();
  /** Counters of tasks dropped (revoked) so far: the exit report counts all the records this process handled. */
  private readonly gone: Record<string, number> = {};
  /** Records of a task this process no longer holds (revoked while they were in flight): its new owner reads them. */
  private handedOver = 0;
  private readonly watermarks = new Map<number, number>();
  /** Wall time each task's records last came. */
  private readonly heard = new Map<number, number>();
  private watermark = -Infinity;
  private readonly controlsSent = new Set<string>();
  readonly tick?: (now: number, out: Rec[]) => void;

  /** `template`: one instance of the span (what it reads and gives); `make` builds a task's own instances. */
  /** `clock`: wall time in ms (injectable for tests). */
  constructor(template: readonly Stage[], private readonly make: () => Stage[], private readonly clock: () => number = Date.now) {
    this.name = template.map((s) => s.name).join('+');
    let reads: FieldNeeds = 'none';
    let keeps = true;
    for (const st of template) {
      if (keeps) reads = mergeNeeds(reads, st.reads);
      keeps &&= st.keepsValue;
    }
    this.reads = reads;
    this.keepsValue = keeps;
    for (const st of template) if (st.gives) this.gives = { ...this.gives, ...st.gives };
    this.keeps = template.filter(isStateful).map((s) => s.name);
    if (template.some((s) => s.tick)) this.tick = (now, out) => this.onTick(now, out);
  }

  /** The tasks this process holds. */
  ids(): number[] {
    return [...this.tasks.keys()];
  }

  has(task: number): boolean {
    return this.tasks.has(task);
  }

  /**
   * Starts task `task` from its restored state: per stateful stage of the span, the entries its changelog
   * partition holds (none: a fresh task). A task held already is replaced.
   */
  add(task: number, entries: readonly [string, unknown][][] = []): void {
    const chain = new Chain(this.make());
    chain.stateful.forEach((st, i) => st.restore(entries[i] ?? []));
    this.tasks.set(task, chain);
    // a new task holds the others' watermark back until it has been quiet for the idle timeout
    this.heard.set(task, this.clock());
  }

  /** The task's partition went to another process: its state is that process's now, and nothing of it is written again. */
  drop(task: number): void {
    const chain = this.tasks.get(task);
    if (!chain) return;
    for (const c of Object.values(chain.counters())) for (const [k, v] of Object.entries(c)) this.gone[k] = (this.gone[k] ?? 0) + v;
    for (const st of chain.stateful) st.suspend?.();
    this.tasks.delete(task);
    this.watermarks.delete(task);
    this.heard.delete(task);
  }

  process(batch: Rec[], out: Rec[]): void {
    let failure: unknown;
    const now = this.clock();
    let i = 0;
    // after a failing record nothing later in the batch is processed, as in a Chain (what came before goes out)
    while (i < batch.length && failure === undefined) {
      const rec = batch[i];
      const task = taskOf(rec);
      if (task === undefined) {
        // a control record from before the span reaches every task, in order with their records
        for (const [t, chain] of this.tasks) failure ??= this.emit(t, chain.push([rec]), out);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < batch.length && taskOf(batch[j]) === task) j++;
      const chain = this.tasks.get(task);
      if (chain) {
        this.heard.set(task, now);
        failure ??= this.emit(task, chain.push(i === 0 && j === batch.length ? batch : batch.slice(i, j)), out);
      } else this.handedOver += j - i;
      i = j;
    }
    if (failure !== undefined) throw failure;
  }

  private onTick(now: number, out: Rec[]): void {
    let failure: unknown;
    for (const [t, chain] of this.tasks) failure ??= this.emit(t, chain.tick(now), out);
    if (failure !== undefined) throw failure;
  }

  end(out: Rec[]): void {
    for (const [t, chain] of this.tasks) this.emit(t, chain.end(), out);
    // every task ended: whatever stream time a stage after the span keeps may go to the end too
  }

  /** A stop with checkpointed state: each task's stateful stages keep their state for the restarted run. */
  suspendInto(out: Rec[]): void {
    for (const [t, chain] of this.tasks) this.emit(t, chain.end(true), out);
  }

  /** A task's output into the span's, its watermarks merged into one; the task's failure, if it failed. */
  private emit(task: number, res: Rec[] | PartialFailure, out: Rec[]): unknown {
    const recs = res instanceof PartialFailure ? res.out : res;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.ctl === undefined) out.push(r);
      else if (r.ctl === WATERMARK) this.mergeWatermark(task, r.value as number, out);
      else {
        const key = `${r.ctl}\u0000${JSON.stringify(r.value)}`;
        if (this.controlsSent.has(key)) continue;
        this.controlsSent.add(key);
        out.push(r);
      }
    }
    return res instanceof PartialFailure ? res.error : undefined;
  }

  /**
   * The least watermark of the tasks heard from within the idle timeout (one with none yet holds the others back);
   * a task whose partition has gone quiet does not (Flink's idleness, as for partitions inside a window stage).
   * When every task is quiet, the least of those that gave one.
   */
  private mergeWatermark(task: number, wm: number, out: Rec[]): void {
    this.watermarks.set(task, wm);
    const now = this.clock();
    let least = Infinity;
    let quietLeast = Infinity;
    for (const t of this.tasks.keys()) {
      const w = this.watermarks.get(t);
      if (now - (this.heard.get(t) ?? -Infinity) < DEFAULT_IDLE_MS) least = Math.min(least, w ?? -Infinity);
      else if (w !== undefined) quietLeast = Math.min(quietLeast, w);
    }
    if (least === Infinity) least = quietLeast;
    if (least > this.watermark && least !== Infinity) {
      this.watermark = least;
      out.push(Rec.control(WATERMARK, least));
    }
  }

  /** Each held task's changed entries, per stateful stage of the span. */
  drainChanges(): TaskChanges[] {
    const res: TaskChanges[] = [];
    for (const [task, chain] of this.tasks) for (const c of chain.drainChanges()) res.push({ task, stage: c.stage, entries: c.entries });
    return res;
  }

  counters(): Record<string, number> {
    const res: Record<string, number> = { ...this.gone };
    for (const chain of this.tasks.values()) for (const c of Object.values(chain.counters())) for (const [k, v] of Object.entries(c)) res[k] = (res[k] ?? 0) + v;
    if (this.handedOver) res['handed-over'] = this.handedOver;
    return res;
  }

  metrics(): PartMetrics {
    let windowsOpen: number | undefined;
    let stateEntries: number | undefined;
    for (const chain of this.tasks.values()) {
      for (const st of chain.stages) {
        const m = st.metrics?.();
        if (m?.windowsOpen !== undefined) windowsOpen = (windowsOpen ?? 0) + m.windowsOpen;
        if (m?.stateEntries !== undefined) stateEntries = (stateEntries ?? 0) + m.stateEntries;
      }
    }
    return { windowsOpen, stateEntries };
  }
}
