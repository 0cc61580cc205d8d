/**
 * Dead letters to a Kafka topic (`--on-error dlq=kafka:<topic>`). A dead-letter record is the bad record as it
 * came in — its original bytes as the value — with headers that say what happened:
 *   kstream.stage   the stage that refused it (stdin, map, window, produce, …)
 *   kstream.reason  why (`invalid JSON at column 8: …`, `map expression … threw TypeError: …`)
 *   kstream.source  where it came from (`stdin line 12`, `clicks/3@1042`)
 *   kstream.topic, kstream.partition, kstream.offset   the same, for records read from Kafka
 *
 * Stages report bad records synchronously (RecordErrors.handle); letters are collected here and sent in batches.
 * A Kafka source flushes them before it commits a batch's offsets, so a bad record is never committed past before
 * its dead letter is acknowledged; under --exactly-once they are sent inside the batch's transaction. Anything
 * left is flushed when the run ends (`closeAll`).
 */
import { Buffer } from 'node:buffer';
import { type Bytes, type KafkaClient, type KafkaProducer, type OutBatch, type OutHeader } from '../types.js';
import { openKafka } from '../client/open.js';
import type { KafkaConfig } from '../config.js';
import type { ExactlyOnce } from './exactly-once.js';
import { kafkaError, MissingTopic } from '../errors.js';
import type { DeadLetter, DeadLetterSink } from '../../pipeline/run-context.js';

/** Letters waiting in memory before a background send starts (a flush before a commit sends them anyway). */
const SEND_AT = 5000;
/** A table row's headers: none, one shared array (never written to). */
const NO_HEADERS: OutHeader[] = [];
/** A materialized table's rows wait at most this long before a send starts. */
const ROW_DELAY_MS = 200;

/** The dead letters of one topic in one run (the run's KafkaRun keeps one per topic). */
export class KafkaDeadLetters implements DeadLetterSink {
  private keys: Bytes[] = [];
  private values: Bytes[] = [];
  private headers: OutHeader[][] = [];
  private timestamps: number[] = [];
  private sending: Promise<void> = Promise.resolve();
  private failure: unknown;
  private client: KafkaClient | undefined;
  private producer: KafkaProducer | undefined;
  /** Letters acknowledged by the broker. */
  sent = 0;

  /** `cfg` and `eos`: the run's connection settings and its transactions, asked for when a send starts. */
  /**
   * `table`: a materialized table's rows instead (`put`), into a compacted topic made when missing — the same
   * batching, flush before commit and transactions as dead letters.
   */
  constructor(readonly topic: string, private readonly cfg: () => KafkaConfig, private readonly eos: () => ExactlyOnce | undefined, private readonly table = false) {}

  /** A materialized table's row (key, value JSON or null for a deletion). */
  put(key: string | null, value: string | null, ts: number | undefined): void {
    if (this.failure !== undefined) throw this.failure;
    this.keys.push(key);
    this.values.push(value);
    this.headers.push(NO_HEADERS);
    this.timestamps.push(ts ?? Date.now());
    if (this.eos()) return; // they go out with the batch's transaction
    if (this.values.length >= SEND_AT) this.flush().catch((e) => (this.failure ??= e));
    else if (!this.timer) {
      // a table is read while the job runs: rows go out within a moment, not only when a commit flushes them (a run
      // without a group, or a stage in a pipe, has none)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch((e) => (this.failure ??= e));
      }, ROW_DELAY_MS);
      this.timer.unref?.();
    }
  }

  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set by connect when a table's topic is missing: made at the first send, once the run is known to start. */
  private create = false;

  add(l: DeadLetter): void {
    if (this.failure !== undefined) throw this.failure;
    const o = l.original;
    const value: Bytes = o === undefined || o === null ? null : typeof o === 'string' || Buffer.isBuffer(o) ? o : JSON.stringify(o);
    const hs: OutHeader[] = [
      { key: 'kstream.stage', value: l.stage },
      { key: 'kstream.reason', value: l.reason },
      { key: 'kstream.source', value: l.where },
    ];
    const m = /^(.+)\/(\d+)@(\d+)$/.exec(l.where);
    if (m) hs.push({ key: 'kstream.topic', value: m[1] }, { key: 'kstream.partition', value: m[2] }, { key: 'kstream.offset', value: m[3] });
    this.keys.push(null);
    this.values.push(value);
    this.headers.push(hs);
    this.timestamps.push(Date.now());
    // without a transaction to join, a long run of bad records is sent as it grows
    if (this.values.length >= SEND_AT && !this.eos()) {
      this.flush().catch((e) => (this.failure ??= e));
    }
  }

  /** Sends what is collected (after any send in progress); resolves once the broker acknowledged it. */
  flush(): Promise<void> {
    const count = this.values.length;
    if (count === 0) return this.sending.then(() => this.rethrow());
    const batch: OutBatch = { count, keys: this.keys, values: this.values, timestamps: this.timestamps, partitions: undefined, headers: this.headers };
    this.keys = [];
    this.values = [];
    this.headers = [];
    this.timestamps = [];
    this.sending = this.sending.then(() => this.send(batch)).catch((e) => {
      this.failure ??= e;
    });
    return this.sending.then(() => this.rethrow());
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private connected: Promise<void> | undefined;

  /**
   * Connects and checks that the topic exists: before the run's first record (RunContext.beforeStart), so a
   * missing topic stops the run before it starts rather than at its first bad record.
   */
  connect(): Promise<void> {
    this.connected ??= (async () => {
      const client = (this.client = await openKafka(this.cfg()));
      await client.connect();
      if (!(await client.topicExists(this.topic))) {
        if (!this.table) throw new MissingTopic(this.topic, `dead-letter topics are not created for you: \`kstream topics create ${this.topic}\``);
        this.create = true;
      }
      this.producer = client.producer({ acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000 });
    })();
    return this.connected;
  }

  private async send(batch: OutBatch): Promise<void> {
    const cfg = this.cfg();
    await this.connect();
    if (this.create) {
      // one row per key is what a table keeps: compaction drops the older ones
      this.create = false;
      if (!(await this.client!.topicExists(this.topic))) await this.client!.createTopic(this.topic, { partitions: 1, configs: { 'cleanup.policy': 'compact' } });
    }
    try {
      const eos = this.eos();
      if (eos) await eos.send(this.topic, batch);
      else await this.producer!.send(this.topic, batch);
    } catch (e) {
      throw kafkaError(e, { cfg, topic: this.topic });
    }
    this.sent += batch.count;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.client?.close();
    this.client = undefined;
    this.connected = undefined;
  }
}
