/**
 * A transactional producer on kafkajs's connections: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * TxnOffsetCommit and EndTxn through kafkajs's request definitions, and record batches (kafka/client/producer.ts) that
 * carry its producer id, epoch and per-partition sequence numbers. Used by kafka/connect/exactly-once.ts, one per input partition.
 */
import type { Wire, Broker } from '../transport/kafkajs.js';
import { WireProducer, type ProducerIdentity } from './producer.js';
import { tpKey, type OutBatch, type ProducerOptions, type TopicPartitionOffset, type TransactionalProducer } from '../types.js';
import { isTransient, kafkaError } from '../errors.js';
import { RuntimeError } from '../../pipeline/errors.js';

/** How long a transaction may stay open before the broker aborts it (the client default of Kafka). */
export const TRANSACTION_TIMEOUT_MS = 60_000;
const TXN_COORDINATOR = 1;

// kafkajs's names: GROUP_LOAD_IN_PROGRESS = COORDINATOR_LOAD_IN_PROGRESS (14), GROUP_COORDINATOR_NOT_AVAILABLE =
// COORDINATOR_NOT_AVAILABLE (15), NOT_COORDINATOR_FOR_GROUP = NOT_COORDINATOR (16); they serve transactions too.
const FIND_COORDINATOR_AGAIN = new Set(['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP']);
const RETRY = new Set([
  ...FIND_COORDINATOR_AGAIN, 'CONCURRENT_TRANSACTIONS', 'REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION',
  'UNKNOWN_TOPIC_OR_PARTITION', 'NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE',
]);
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);
const CONNECTION = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSGroupCoordinatorNotFound']);
/** Produce error codes that mean this producer lost its transactional id to a newer one. */
const FENCED_CODES = new Set([47, 90, 49]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ErrLike = { name?: string; type?: string; code?: number; message?: string; retriable?: boolean };

/** The transactional producer of one input partition. */
export class TxnProducer implements ProducerIdentity, TransactionalProducer {
  producerId = -1;
  epoch = -1;
  private readonly seqs = new Map<string, number>();
  /** Partitions added to the open transaction. */
  private readonly added = new Set<string>();
  /** True once the open transaction holds anything (records or offsets). */
  private open = false;
  private readonly producer: WireProducer;
  private coordinator: Broker | undefined;

  constructor(private readonly wire: Wire, readonly transactionalId: string, producerOpts: ProducerOptions, private readonly what: string) {
    this.producer = new WireProducer(wire, { ...producerOpts, acks: -1 }, this);
  }

  /** Takes the transactional id: fences any previous holder and waits until its open transaction is settled. */
  async init(): Promise<void> {
    const r = await this.txnRequest('InitProducerId', { transactionalId: this.transactionalId, transactionTimeout: TRANSACTION_TIMEOUT_MS });
    this.producerId = Number(r.producerId);
    this.epoch = r.producerEpoch;
    this.seqs.clear();
    this.added.clear();
    this.open = false;
  }

  sequence(topic: string, partition: number, count: number): number {
    const k = tpKey(topic, partition);
    const s = this.seqs.get(k) ?? 0;
    // sequences wrap at the int32 maximum, as in the Java producer
    this.seqs.set(k, s + count > 0x7fffffff ? s + count - 0x80000000 : s + count);
    return s;
  }

  async addPartitions(topic: string, partitions: number[]): Promise<void> {
    const fresh = partitions.filter((p) => !this.added.has(tpKey(topic, p)));
    if (fresh.length === 0) return;
    await this.txnRequest('AddPartitionsToTxn', { transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch, topics: [{ topic, partitions: fresh }] });
    for (const p of fresh) this.added.add(tpKey(topic, p));
    this.open = true;
  }

  async send(topic: string, batch: OutBatch): Promise<void> {
    try {
      await this.producer.send(topic, batch);
    } catch (e) {
      throw this.fencedOr(e, topic);
    }
  }

  /** Adds `offsets` (next offsets to read) for `group` to the transaction and commits it. */
  async commit(group: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const ids = { transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch };
    if (offsets.length) {
      await this.txnRequest('AddOffsetsToTxn', { ...ids, groupId: group });
      this.open = true;
      await this.retrying(async () => {
        const c = await this.wire.coordinator(group);
        await this.wire.call(c, 'TxnOffsetCommit', { ...ids, groupId: group, topics: byTopic(offsets) });
      });
    }
    if (!this.open) return;
    await this.txnRequest('EndTxn', { ...ids, transactionResult: true });
    this.added.clear();
    this.open = false;
  }

  /** Aborts the open transaction, if any (best effort: a fenced or unreachable producer's is aborted for it). */
  async abort(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.added.clear();
    await this.txnRequest('EndTxn', { transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch, transactionResult: false }, 5_000);
  }

  private async txnRequest(api: string, args: object, retryForMs?: number): Promise<any> {
    return this.retrying(async () => {
      this.coordinator ??= await this.wire.txnCoordinator(this.transactionalId);
      try {
        return await this.wire.call(this.coordinator, api, args);
      } catch (e) {
        const err = e as ErrLike;
        if (FIND_COORDINATOR_AGAIN.has(err.type ?? '') || CONNECTION.has(err.name ?? '')) this.coordinator = undefined;
        throw e;
      }
    }, retryForMs);
  }

  /**
   * Runs `fn` again on retriable errors until it succeeds: a few quick tries (a coordinator loading, markers
   * still being written), then as an outage of the client (one notice, given up after RECONNECT_FOR_MS), or
   * after `forMs` when given.
   */
  private async retrying<T>(fn: () => Promise<T>, forMs?: number): Promise<T> {
    const deadline = forMs === undefined ? Infinity : Date.now() + forMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fn();
        if (attempt > 3) this.wire.outage.ok();
        return r;
      } catch (e) {
        const err = e as ErrLike;
        const retriable = RETRY.has(err.type ?? '') || CONNECTION.has(err.name ?? '') || isTransient(e);
        if (!retriable || Date.now() > deadline) throw this.fencedOr(e);
        // beyond a few tries it is an outage: one notice, and an error once it has lasted too long
        await sleep(attempt > 3 ? this.wire.outage.failed(e, attempt) : Math.min(1000, 20 * 2 ** attempt));
      }
    }
  }

  private fencedOr(e: unknown, topic?: string): Error {
    const err = e as ErrLike;
    const code = (e as { code?: number }).code;
    if (FENCED.has(err.type ?? '') || (typeof code === 'number' && FENCED_CODES.has(code))) {
      return new RuntimeError(
        `exactly-once: ${this.what} was taken over by another producer (transactional id \`${this.transactionalId}\` fenced)`,
        'another kstream instance owns this partition now, or the transaction ran past its timeout; restart to rejoin — the aborted transaction leaves no output',
      );
    }
    return kafkaError(e, { cfg: this.wire.cfg, topic });
  }
}

function byTopic(offsets: TopicPartitionOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const m = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    let l = m.get(o.topic);
    if (!l) m.set(o.topic, (l = []));
    l.push({ partition: o.partition, offset: String(o.offset) });
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}
