/**
 * What one run shares across its stages, built with the plan and handed to every stage, source and sink through
 * BuildContext: no module-level state coordinates a run. Layers keep their own per-run facts in a slot (kafka/:
 * clients, transactions, dead letters — kafka/connect/run.ts), so this floor knows nothing about them.
 */

/** A bad record set aside by --on-error dlq=… */
export interface DeadLetter {
  stage: string;
  reason: string;
  /** The record's position as the stage names it. */
  where: string;
  /** The record's original text (or bytes; or a value when the text is gone). */
  original: unknown;
}

export interface DeadLetterSink {
  add(letter: DeadLetter): void;
}

/**
 * Rows of a materialized table (`aggregate --materialize <name>`): a compacted topic `lookup` and `table` read.
 * Sent before the batch's offsets are committed (inside its transaction under --exactly-once), like dead letters.
 */
export interface TableWriter {
  /** A row: its key, its value's JSON (null: the key is deleted) and time. */
  put(key: string | null, value: string | null, ts: number | undefined): void;
}

export class RunContext {
  /**
   * Dead-letter topics (`--on-error dlq=kafka:<topic>`): installed by the CLI from the Kafka layer when a run names
   * one, so a run that does not never loads Kafka code.
   */
  kafkaLetters: ((topic: string) => DeadLetterSink) | undefined;
  /** Materialized tables (`--materialize <name>`): installed by the CLI from the Kafka layer when a run names one. */
  materialize: ((topic: string) => TableWriter) | undefined;
  private readonly slots = new Map<string, unknown>();
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly checks: (() => Promise<void>)[] = [];

  /** A check to make before the run's first record (a dead-letter topic exists), not at the first bad one. */
  beforeStart(fn: () => Promise<void>): void {
    this.checks.push(fn);
  }

  /** Makes the checks, in the order registered; the first failure is thrown. */
  async ready(): Promise<void> {
    for (const fn of this.checks.splice(0)) await fn();
  }

  /** The per-run object a layer keeps under `name`, made on first use. */
  slot<T>(name: string, make: () => T): T {
    let v = this.slots.get(name) as T | undefined;
    if (v === undefined) {
      v = make();
      this.slots.set(name, v);
    }
    return v;
  }

  /** Work for the end of the run (flush and close), in the order registered. */
  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  /** Runs every closer, even when one fails; the first failure is thrown afterwards. */
  async close(): Promise<void> {
    let failure: unknown;
    for (const fn of this.closers.splice(0)) {
      try {
        await fn();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
