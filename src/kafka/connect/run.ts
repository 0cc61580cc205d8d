/**
 * The Kafka facts of one run, kept in the run's context (pipeline/run-context.ts) instead of module statics: the
 * transactions of an --exactly-once run, which the source makes and the sink, the state changelog and the dead
 * letters send through; the dead-letter topics; and the connection settings they use.
 */
import process from 'node:process';
import type { RunContext } from '../../pipeline/run-context.js';
import { connectionConfig, type KafkaConfig } from '../config.js';
import type { ExactlyOnce } from './exactly-once.js';
import { KafkaDeadLetters } from './dead-letters.js';

export class KafkaRun {
  /** Set by the Kafka source under --exactly-once, before the sink is built. */
  eos: ExactlyOnce | undefined;
  private cfg: KafkaConfig | undefined;
  private readonly letters = new Map<string, KafkaDeadLetters>();
  /** Topics the run writes (its sink's, its changelog): a --regex must not read its own output. */
  readonly writes = new Set<string>();

  /** Connection settings of the run's first Kafka source or sink; dead letters use them. */
  useConfig(cfg: KafkaConfig): void {
    this.cfg ??= cfg;
  }

  /** The dead-letter box of a topic, made on first use. */
  deadLetters(topic: string): KafkaDeadLetters {
    this.writes.add(topic);
    let d = this.letters.get(topic);
    if (!d) this.letters.set(topic, (d = new KafkaDeadLetters(topic, () => this.cfg ?? connectionConfig({}, process.env), () => this.eos)));
    return d;
  }

  /** The rows of a materialized table (`--materialize <topic>`), sent and committed as dead letters are. */
  materialized(topic: string): KafkaDeadLetters {
    this.writes.add(topic);
    let d = this.letters.get(topic);
    if (!d) this.letters.set(topic, (d = new KafkaDeadLetters(topic, () => this.cfg ?? connectionConfig({}, process.env), () => this.eos, true)));
    return d;
  }

  /** Sends every letter collected so far and waits for the broker's acknowledgement (before offsets are committed). */
  async flushLetters(): Promise<void> {
    for (const d of this.letters.values()) await d.flush();
  }

  async closeLetters(): Promise<void> {
    try {
      await this.flushLetters();
    } finally {
      for (const d of this.letters.values()) await d.close();
    }
  }
}

/** The run's Kafka facts; made (with their end-of-run flush) by whoever asks first. */
export function kafkaRun(run: RunContext): KafkaRun {
  return run.slot('kafka', () => {
    const k = new KafkaRun();
    run.onClose(() => k.closeLetters());
    return k;
  });
}

/**
 * A run's side outputs to one kind of topic, made on first use: each topic is connected (and checked) once, before
 * the run's first record (RunContext.beforeStart), not at its first row.
 */
function outbox(run: RunContext, make: (k: KafkaRun, topic: string) => KafkaDeadLetters): (topic: string) => KafkaDeadLetters {
  const checked = new Set<string>();
  return (topic) => {
    const box = make(kafkaRun(run), topic);
    if (!checked.has(topic)) {
      checked.add(topic);
      run.beforeStart(() => box.connect());
    }
    return box;
  };
}

/** Lets `--on-error dlq=kafka:<topic>` work in this run (called by the CLI when a run names such a target). */
export function installKafkaLetters(run: RunContext): void {
  run.kafkaLetters = outbox(run, (k, topic) => k.deadLetters(topic));
}

/** Lets `aggregate --materialize <topic>` work in this run (called by the CLI when a run names one). */
export function installMaterialize(run: RunContext): void {
  run.materialize = outbox(run, (k, topic) => k.materialized(topic));
}
