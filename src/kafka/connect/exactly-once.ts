/**
 * Exactly-once consume → transform → produce (`consume --group g --exactly-once + … + produce out`) with Kafka
 * transactions.
 *
 * One transactional producer per input partition (transactional id `<prefix>-<topic>-<partition>`), the classic
 * scheme of Kafka Streams before KIP-447: whoever processes partition p initialises p's transactional id first,
 * which bumps its epoch, aborts (or completes) the transaction a previous owner left open, and fences that owner:
 * its next produce or commit fails with PRODUCER_FENCED. kstream does not fence through the group generation.
 *
 * The runner handles one input batch at a time, and under --exactly-once a batch holds records of one partition
 * (KafkaSource splits fetches per partition). So: `begin(p)` before the batch is handed out; the sink's writes
 * (and state changelog writes, through `send`) go into p's transaction; `commit(offsets)` — the source's ack, after
 * the sink acknowledged the batch — adds the input offsets to the transaction and commits it. Output written
 * while no batch is open (windows closed by a wall-clock tick) waits and goes into the next transaction; output
 * at the end of the run goes into a last transaction that `finish` commits.
 */
import { tpKey, type KafkaClient, type OutBatch, type ProducerOptions, type TopicPartition, type TopicPartitionOffset, type TransactionalProducer } from '../types.js';
import { RuntimeError } from '../../pipeline/errors.js';

export interface ExactlyOnceOptions {
  group: string;
  /** Transactional ids are `<prefix>-<topic>-<partition>`. */
  prefix: string;
}

/**
 * The transactions of one exactly-once run. Created by the Kafka source (`--exactly-once`) and kept in the run's
 * KafkaRun (kafka/connect/run.ts), where the sink, the state changelog and the dead letters find it.
 */
export class ExactlyOnce {
  private readonly producers = new Map<string, TransactionalProducer>();
  private current: TransactionalProducer | undefined;
  private last: TransactionalProducer | undefined;
  /** Output written while no transaction was open, sent first in the next one. */
  private held: { topic: string; batch: OutBatch }[] = [];
  /** Set by the sink when it attaches: without a Kafka sink there is nothing to make exactly-once. */
  sinkAttached = false;
  private failed = false;

  private client: KafkaClient | undefined;
  /** Batching and compression of the transactional producers: the sink's (set when it attaches). */
  private producerOpts: ProducerOptions = { acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000 };

  constructor(readonly opts: ExactlyOnceOptions) {}

  /** The Kafka sink of the run: its producer settings (acks are always all). */
  attachSink(producer: ProducerOptions): void {
    this.sinkAttached = true;
    this.producerOpts = { ...producer, acks: -1 };
  }

  /** The source's client, once connected. */
  bind(client: KafkaClient): void {
    this.client = client;
  }

  private producerFor(topic: string, partition: number): TransactionalProducer {
    const k = tpKey(topic, partition);
    let p = this.producers.get(k);
    if (!p) {
      p = this.client!.transactionalProducer(`${this.opts.prefix}-${topic}-${partition}`, this.producerOpts, `input partition \`${topic}/${partition}\``);
      this.producers.set(k, p);
    }
    return p;
  }

  /**
   * Called when partitions are assigned, before their committed offsets are read: takes their transactional ids,
   * which settles whatever a previous owner (a killed run, a zombie) left open.
   */
  async prepare(tps: TopicPartition[]): Promise<void> {
    await Promise.all(tps.map((tp) => this.producerFor(tp.topic, tp.partition).init()));
  }

  /**
   * Partitions the group gave to another member, with no transaction open (the source waited for the one in
   * flight): their producers are dropped, so a later assignment of the partition takes its transactional id afresh.
   */
  release(tps: TopicPartition[]): void {
    for (const tp of tps) {
      const p = this.producers.get(tpKey(tp.topic, tp.partition));
      if (!p) continue;
      this.producers.delete(tpKey(tp.topic, tp.partition));
      if (this.last === p) this.last = undefined;
    }
  }

  /** Opens the transaction of the batch about to be processed (a batch of records of one input partition). */
  async begin(topic: string, partition: number): Promise<void> {
    this.current = this.producerFor(topic, partition);
    await this.flushHeld();
  }

  private async flushHeld(): Promise<void> {
    const held = this.held;
    this.held = [];
    for (const h of held) await this.current!.send(h.topic, h.batch);
  }

  /** The sink's writes (and changelog writes): into the open transaction, else held for the next one. */
  async send(topic: string, batch: OutBatch): Promise<void> {
    if (this.failed) throw new RuntimeError('exactly-once: an earlier transaction failed');
    if (!this.current) {
      this.held.push({ topic, batch });
      return;
    }
    try {
      await this.current.send(topic, batch);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /** The source's ack: input offsets of the batch into its transaction, then commit. */
  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    const p = this.current;
    if (!p) return;
    this.current = undefined;
    try {
      await p.commit(this.opts.group, offsets);
    } catch (e) {
      this.failed = true;
      throw e;
    }
    this.last = p;
  }

  /**
   * Output a clock tick made (windows an idle input let close) with no transaction open: committed now in a
   * transaction of its own, on the producer of the partition that wrote last, instead of waiting for the next batch
   * — which a quiet input may never bring. Nothing when nothing is held or a batch's transaction is open.
   */
  async flushTick(): Promise<void> {
    if (this.failed || this.current || !this.held.length || !(this.last ?? this.producers.size)) return;
    await this.finish();
  }

  /** End of the run: what was written since the last batch goes into one last transaction, committed. */
  async finish(): Promise<void> {
    if (this.failed) return;
    if (!this.current && this.held.length) {
      this.current = this.last ?? this.producers.values().next().value;
      if (!this.current) throw new RuntimeError('exactly-once: output at the end of the run but no input partition to write it for');
      try {
        await this.flushHeld();
      } catch (e) {
        this.failed = true;
        throw e;
      }
    }
    await this.commit([]);
  }

  /** After a failure: abort what is open, so read_committed readers are not held up until the timeout. */
  async abort(): Promise<void> {
    this.held = [];
    const p = this.current;
    this.current = undefined;
    await p?.abort().catch(() => undefined);
  }
}
