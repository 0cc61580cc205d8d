import type { Rec } from './record.js';
import type { LineSpans } from './spans.js';
import { RuntimeError } from './errors.js';

/**
 * The stage contract shared by piped and fused mode.
 *
 * A stage is built once from its parsed options and then transforms *batches*: `process` gets the records of one
 * batch in order (data and control records interleaved) and pushes its outputs to `out`. It is synchronous on
 * purpose: the async boundary of a pipeline is the batch, never the record.
 *
 * Piped mode wraps one stage between the NDJSON decoder and encoder; fused mode chains several stages directly.
 * Either way the stage sees the same records, which is what makes the two modes give byte-identical output.
 */
export interface Stage {
  readonly name: string;
  /** What the stage reads of each record's value, so the decoder parses no more than needed. */
  readonly reads: FieldNeeds;
  /** False when the stage replaces values (map, aggregate): fields later stages read come from its output. */
  readonly keepsValue: boolean;
  /** What the stage's output records carry whatever its input had (aggregate results: a key and a time). */
  readonly gives?: Partial<Carried>;
  /**
   * True for stateless stages (map, filter, flatmap, a join against a file): batches may then be processed on
   * several threads, each with its own instance (opened in each thread).
   */
  readonly stateless?: boolean;
  /**
   * A stateful stage whose state is per key: the sources of its key expressions (`key`: the record key; none: one
   * group for every record). Unset: state that is not per key (stream time, a window grid). Decides whether a
   * Kafka-fed run's state may be split by input partition (pipeline/assemble.ts taskStages).
   */
  readonly keyedBy?: readonly string[];
  process(batch: Rec[], out: Rec[]): void;
  /** End of input: emit whatever state is still open (windows close at end of input). */
  end?(out: Rec[]): void;
  /** Wall-clock tick for processing-time windows and idle flushes; `now` in epoch ms. */
  tick?(now: number, out: Rec[]): void;
  /** Counters reported on stderr at exit and in --json summaries ("skipped", "late", ...). */
  counters?(): Record<string, number>;
  /** What `--metrics` shows of the stage besides its counters, read when scraped (never per record). */
  metrics?(): PartMetrics;
  /**
   * Before the first batch: a stage with a side input (a join's table) reads it to the end offsets seen at start,
   * so no stream record meets a half-loaded table. The drivers await it; it may keep the side following after.
   */
  open?(how?: { quiet?: boolean }): Promise<void>;
  /**
   * At the end of input, before `end`: a stage whose side input is a second stream (a stream–stream join) waits
   * for it to reach the end offsets seen at start, so a bounded run joins both inputs whole.
   */
  settle?(): Promise<void>;
  /**
   * Set by a stage whose state includes where its side input resumes, restored before the side is opened, which a
   * transactional run (--exactly-once restores state only once partitions are assigned) cannot do yet: such a run
   * is refused, naming the stage.
   */
  readonly atLeastOnceOnly?: string;
  /** After the last batch (or a failure): releases what `open` started. */
  close?(): Promise<void>;
  /**
   * A stop whose state is checkpointed, for a stage holding stateful stages inside (pipeline/tasks.ts): they keep
   * their state (StatefulStage.suspend) instead of ending; what the others emit goes to `out`.
   */
  suspendInto?(out: Rec[]): void;
}

/** One row of a table side: its key (null: none), value (null: a tombstone) and time (Kafka timestamp). */
export interface SideRow {
  key: string | null;
  value: unknown;
  ts: number | undefined;
  /**
   * `value` is the value's text, not decoded yet: JSON when it is JSON, else the text itself (as `consume` reads
   * values). A table decodes it when a lookup first needs it, so rows never looked up cost no parse.
   */
  lazy?: boolean;
  /** Where a topic's row was read (its partition and offset): a stream–stream join checkpoints the side's position. */
  partition?: number;
  offset?: number;
}

/**
 * Where a side input resumes (a stream–stream join's checkpointed position): a topic at these next offsets per
 * partition (the others from their start), a file after this many rows.
 */
export interface SidePosition {
  offsets?: Record<string, number>;
  rows?: number;
}

/**
 * The rows of a table's source (a topic, a file) in log order, in batches. `caughtUp` is false until the batch that
 * reaches the end offsets seen at start (that batch, possibly empty, says true, and so does every later one). The
 * batches end there unless the input follows its source; `close` stops a following input.
 */
export interface SideInput {
  /** As the user named it: `global:customers`, `file:customers.ndjson`. */
  readonly name: string;
  /** Whether it reads on past the end offsets seen at start (a topic) or ends there (a file). */
  readonly follows: boolean;
  batches(): AsyncIterable<{ rows: SideRow[]; caughtUp: boolean }>;
  close(): Promise<void>;
  /** Set before `batches()`: read on from a checkpointed position instead of from the start. */
  resumeAt?: SidePosition;
}

/**
 * What a source, stage or sink can tell `--metrics` (report/run-metrics.ts) beyond its counters: read only when
 * the metrics are scraped, from counts the part keeps anyway.
 */
export interface PartMetrics {
  /** Bytes read (a source) or written (a sink). */
  bytes?: number;
  /** Connections to the brokers restored after they were lost. */
  reconnects?: number;
  /** Per input partition: records between the next one handed to the pipeline and the high watermark. */
  lag?: { topic: string; partition: number; records: number; seconds?: number }[];
  windowsOpen?: number;
  /** Entries of the stage's state (accumulators, remembered ids). */
  stateEntries?: number;
  /** A source whose stages' state is restored from a changelog: entries read so far, seconds taken, finished. */
  restore?: { entries: number; seconds: number; done: boolean };
}

/** `all` = needs the whole value; a list = only these top-level fields; `none` = never looks at the value. */
export type FieldNeeds = 'all' | 'none' | readonly string[];

/** Record-error policy shared by every stage (docs/design.md: --on-error fail|skip|dlq=<file>). */
export type OnError = { mode: 'fail' } | { mode: 'skip' } | { mode: 'dlq'; target: string };

/**
 * What records carry besides their value. Kafka records have a key, a timestamp and headers; lines read from a
 * pipe have none of them unless they are envelopes. Stages that need one the source cannot give refuse to start
 * (docs/semantics.md: no silent switch of clocks) rather than see `undefined`.
 */
export interface Carried {
  key: boolean;
  ts: boolean;
  headers: boolean;
  /** The records, as errors name them: "records read from a pipe", "records made by `gen`". */
  what?: string;
  /** The records come from input partitions that each keep their own stream time (Rec.src.group: a Kafka source). */
  partitions?: boolean;
}

/** A source produces batches asynchronously; Kafka sources also learn when batches are safely processed. */
export interface Source {
  readonly name: string;
  /** What the records carry besides their value (default: nothing). */
  readonly carries?: Carried;
  /** Stdout gets the records' stored bytes, not NDJSON (consume --format raw). */
  readonly rawOutput?: boolean;
  /** Its records are envelope documents (consume --format envelope): a stage cannot write them as envelopes again. */
  readonly envelopes?: boolean;
  /** Where stateful stages downstream of this source checkpoint (a group's changelog topic), if anywhere. */
  state?: StateBackend;
  /** Set by the driver before `batches()`: the fields of each value the stages read (Chain.plan); decode no more. */
  plan?: FieldNeeds;
  batches(): AsyncIterable<Rec[]>;
  /**
   * batches(), except that lines a sink would write exactly as read may come as LineSpans; the runner asks for
   * this only when no stage sits between the source and a sink with writeLines.
   */
  lines?(): AsyncIterable<Rec[] | LineSpans>;
  /**
   * Where reading resumes after `batch` (Kafka: topic, partition, next offset). Checkpointed with the state, so
   * a restart never applies a batch to state twice, even when it stopped between the checkpoint and the commit.
   */
  positions?(batch: Rec[]): SourcePosition[];
  /**
   * Its state is partitioned like its input: records carry their input partition (`Rec.src.partition`), and it
   * restores the tasks of the partitions it is assigned and drops revoked ones (a Kafka group's changelog). The
   * stateful stages then run once per partition (pipeline/tasks.ts).
   */
  readonly partitionedState?: boolean;
  /** The input is partitioned by whatever key the state groups by (`consume --no-repartition`), not only the record key. */
  readonly keyedAsIs?: boolean;
  /** Its records come from several upstream tasks per partition (a repartition topic): stream time per upstream. */
  readonly upstreamTasks?: boolean;
  /** The source restores `state` itself (StateBackend.deferredTo), at a point it knows to be safe. */
  readonly restoresState?: boolean;
  /** With state: checkpoint and acknowledge at most this often (`consume --commit-interval`). */
  checkpointMs?: number;
  /** Every batch must be acknowledged before the next comes (one transaction each): no checkpoint interval. */
  readonly ackEachBatch?: boolean;
  /**
   * A source whose every batch is a transaction (ackEachBatch): after a clock tick's output and state changes were
   * written with no batch open, commits them (else they would wait for the next batch).
   */
  commitTick?(): Promise<void>;
  /** Called after every record derived from `batch` has been acknowledged by the sink (at-least-once). */
  ack?(batch: Rec[]): Promise<void> | void;
  close?(): Promise<void>;
  counters?(): Record<string, number>;
  metrics?(): PartMetrics;
}

/** A sink writes a batch; the promise resolves once the batch is acknowledged (flushed, or acked by Kafka). */
export interface Sink {
  readonly name: string;
  /** The fields of each value the sink itself reads (produce's key or timestamp expression). */
  readonly reads?: FieldNeeds;
  /**
   * Set by the driver before the first write: true when no source waits for acknowledgements (nothing to commit),
   * so writes may stay in flight (produce lingers to fill requests instead of awaiting each batch).
   */
  pipelined?: boolean;
  write(batch: Rec[]): Promise<void> | void;
  /** Writes validated input lines as they are, when the sink's options let it (see pipeline/spans.ts). */
  writeLines?: ((spans: LineSpans) => Promise<void> | void) | undefined;
  end(): Promise<void> | void;
  /**
   * The run failed on a record (--on-error fail): a transactional sink (produce under --exactly-once) discards what
   * it has not committed. Sinks without it get the records produced before the failure, then `end`.
   */
  abort?(): Promise<void> | void;
  /**
   * The source failed: finish what was written before (in flight), without what only a good end does (create a
   * topic, report a summary). Sinks without it get `end`.
   */
  endFailed?(): Promise<void> | void;
  counters?(): Record<string, number>;
  metrics?(): PartMetrics;
}

export interface SourcePosition {
  topic: string;
  partition: number;
  /** The next offset to read. */
  offset: number;
}

export function mergeNeeds(a: FieldNeeds, b: FieldNeeds): FieldNeeds {
  if (a === 'all' || b === 'all') return 'all';
  if (a === 'none') return b;
  if (b === 'none') return a;
  const s = new Set([...a, ...b]);
  return [...s];
}

/**
 * A stage whose state must survive a restart (window/aggregate accumulators, dedupe ids). The runner checkpoints
 * it after the sink acknowledged a batch and before offsets are committed: it drains the changed entries and
 * writes them to a compacted changelog topic (key = entry key, null = deleted), inside the Kafka transaction
 * under --exactly-once. On start it replays the changelog into `restore` before the first record.
 * Keys must be stable strings; values JSON. A stage reports only what changed since the previous drain.
 */
export interface StatefulStage extends Stage {
  /** Changed entries since the last drain: [key, JSON value, or null when the entry was removed]. */
  drainChanges(): [string, unknown][];
  /** Rebuild state from the latest value of every live key (called before any record). */
  restore(entries: Iterable<[string, unknown]>): void;
  /**
   * The run was stopped (SIGINT/SIGTERM) with its state checkpointed: instead of `end` (which would close open
   * windows early), release what the stage holds outside its state; the restarted run continues from the state.
   */
  suspend?(): void;
}

export const CHANGED_STATE_HINT = 'use a new --group or --state-topic for a changed pipeline, or delete the state topic to start afresh';

/** Key of the entry in which a stateful stage saves, once, what its state means (its arguments). */
export const SIG_KEY = '$sig';

/**
 * Refuses restored entries saved under other arguments (a changed window size, other functions): their meaning
 * differs. Returns whether the entries hold a signature at all (older state does not).
 */
export function checkSignature(stage: string, entries: readonly [string, unknown][], current: string): boolean {
  const saved = entries.find(([k]) => k === SIG_KEY);
  if (saved && saved[1] !== current) throw new RuntimeError(`the saved state of \`${stage}\` was made with other arguments (${saved[1]})`, CHANGED_STATE_HINT);
  return saved !== undefined;
}

export function isStateful(s: Stage): s is StatefulStage {
  return typeof (s as StatefulStage).drainChanges === 'function' && typeof (s as StatefulStage).restore === 'function';
}

/** One task's changes since the last drain: per stateful stage of its span (the index there), the changed entries. */
export interface TaskChanges {
  task: number;
  stage: number;
  entries: [string, unknown][];
}

/**
 * The stateful span of a run kept once per input partition (Kafka Streams' tasks, pipeline/tasks.ts): a source
 * that is assigned partitions restores their tasks and drops the ones revoked, through the StateBackend.
 */
export interface TaskedStages extends Stage {
  /** The span's stateful stages by name, in order (what changelog entries are numbered by). */
  readonly keeps: string[];
  ids(): number[];
  has(task: number): boolean;
  /** Starts a task from its restored entries, per stateful stage of the span. */
  add(task: number, entries?: readonly [string, unknown][][]): void;
  drop(task: number): void;
  drainChanges(): TaskChanges[];
}

export function isTasked(s: Stage): s is TaskedStages {
  return typeof (s as TaskedStages).add === 'function' && typeof (s as TaskedStages).drop === 'function' && Array.isArray((s as TaskedStages).keeps);
}

/**
 * Durable state for StatefulStages. Per batch the runner drains the changed entries after the sink acknowledged
 * the batch's output and persists them before the source may commit the batch's offsets, so a restart resumes
 * from offsets whose effects on state are already saved (at-least-once; inside one Kafka transaction with the
 * output and the offsets under --exactly-once).
 */
export interface StateBackend {
  /** `stage` in persist/restore is the index among the pipeline's stateful stages. */
  restore(stages: StatefulStage[]): Promise<void>;
  /**
   * The state's changes and the input position they include (none at the end of a run). A change with a `task`
   * is that task's (partitioned state): it goes to the changelog partition of the same number.
   */
  persist(changes: { stage: number; entries: [string, unknown][]; task?: number }[], positions: SourcePosition[]): Promise<void>;
  /**
   * Partitioned state (set by the runner when the run's stateful span is tasked): the source restores the tasks of
   * the partitions it is assigned (`restoreTasks`) and drops revoked ones, asking the runner for a checkpoint first.
   */
  tasks?: TaskedStages;
  /** Restores these tasks from their changelog partitions into `tasks`; `partitions`: the input's partition count. */
  restoreTasks?(ids: number[], partitions: number): Promise<void>;
  /** Forgets these tasks (their partitions were revoked): dropped from `tasks`, never written again. */
  dropTasks?(ids: number[]): void;
  /** From the checkpoint before a rebalance to its end: nothing written (held for the next checkpoint after `thaw`). */
  freeze?(): void;
  thaw?(): void;
  /** Set by the runner of a tasked run: resolves once it checkpointed everything processed so far (a rebalance comes). */
  checkpointNow?: () => Promise<void>;
  /**
   * Set (with the stages) instead of calling `restore` up front when the source restores at the right moment
   * itself: under --exactly-once only after the previous owner's transactions are fenced (settled).
   */
  deferredTo?: StatefulStage[];
  /** Set by the runner before the source starts: the names of the stages whose state it keeps (none: unused). */
  keeps?: string[];
  /** How far restoring is (for --metrics): changelog entries read so far, seconds, finished. */
  progress?(): { entries: number; seconds: number; done: boolean } | undefined;
  /** After restore: where the checkpointed state says reading resumes (the source starts there if that is later). */
  positions?: Map<string, number>;
  close?(): Promise<void>;
}
