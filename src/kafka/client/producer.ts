/**
 * The producer behind KafkaProducer: assigns partitions (Java's murmur2 for keys, a sticky partition for keyless
 * records), writes records straight into one record batch per partition, and sends the sealed batches to their
 * leaders — all requests of a send at once, pipelined on each broker connection. Requests on one connection are
 * processed in order by the broker, so records of a partition stay in order; only a retry after a leader change
 * can reorder them (as with any non-idempotent Kafka producer).
 *
 * With `lingerMs`, a send waits up to that long for later ones, and they go out together in one request (one record
 * batch per partition instead of one per send). A paced stream hands over a few dozen records at a time — a pipe
 * read, a generator tick — and a request for each cost the broker twice librdkafka's CPU per record, and this
 * process a loopback write (the broker's network thread a wake-up) every millisecond.
 */
import { BatchBuffers, BatchBuilder, type ProducePartitionResult, type ProduceTopicData } from '../protocol/records.js';
import { partitionForKey } from '../protocol/records.js';
import type { KafkaProducer, OutBatch, ProducerOptions, TopicMeta } from '../types.js';
import { protocolError, type Wire } from '../transport/kafkajs.js';
import { isTransient, kafkaError } from '../errors.js';
import { RuntimeError } from '../../pipeline/errors.js';

/** Most bytes of record batches in one Produce request. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const RETRIES = 5;

/** Error codes worth a metadata refresh and a resend. */
const RETRIABLE = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION (right after a create)
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  7, // REQUEST_TIMED_OUT
  13, // NETWORK_EXCEPTION
  14, // COORDINATOR_LOAD_IN_PROGRESS
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  56, // KAFKA_STORAGE_ERROR
]);

interface Sealed {
  partition: number;
  records: Promise<Buffer>;
  count: number;
  /** The buffer `records` is a view of, to reuse once the broker acknowledged it (uncompressed batches). */
  backing: Buffer | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends of one topic waiting for the next request (lingerMs), and the promise they all resolve with. */
interface Lingering {
  batches: OutBatch[];
  records: number;
  bytes: number;
  done: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

/** About the value bytes of a batch (what --batch-bytes is compared with), without walking lines. */
function approxBytes(b: OutBatch): number {
  if (b.bytes !== undefined) return b.bytes;
  if (b.count === 0) return 0;
  if (b.lines) return b.lines.ends[b.count - 1] - b.lines.starts[0];
  let n = 0;
  for (let i = 0; i < b.count; i++) {
    const v = b.values[i];
    if (v !== null) n += v.length;
  }
  return n;
}

/**
 * The identity of an idempotent/transactional producer (kafka/client/transactions.ts): batches carry its producer id, epoch and
 * per-partition sequence numbers, requests its transactional id, and every partition is added to the open
 * transaction before the first record goes to it.
 */
export interface ProducerIdentity {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  /** Base sequence for the next `count` records of a partition (advances it). */
  sequence(topic: string, partition: number, count: number): number;
  /** Adds these partitions to the open transaction (those not yet in it). */
  addPartitions(topic: string, partitions: number[]): Promise<void>;
}

const DUPLICATE_SEQUENCE_NUMBER = 46;
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;

export class WireProducer implements KafkaProducer {
  private readonly meta = new Map<string, TopicMeta>();
  private sticky = -1;
  private readonly buffers = BatchBuffers.shared;
  /** 0 for a transactional producer: its sends are awaited one by one before a commit, nothing could join them. */
  private readonly lingerMs: number;
  private readonly lingering = new Map<string, Lingering>();
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** performance.now() of the last request issued from lingering sends (-Infinity: none yet). */
  private lastFlush = -Infinity;

  constructor(private readonly wire: Wire, private readonly opts: ProducerOptions, private readonly ident?: ProducerIdentity) {
    this.lingerMs = ident ? 0 : Math.max(0, opts.lingerMs ?? 0);
  }

  private async topicMeta(topic: string, refresh = false): Promise<TopicMeta> {
    let m = this.meta.get(topic);
    if (!m || refresh) {
      m = await this.wire.partitions(topic, refresh);
      this.meta.set(topic, m);
    }
    return m;
  }

  send(topic: string, batch: OutBatch): Promise<void> {
    if (this.lingerMs === 0) return this.sendNow(topic, [batch]);
    let l = this.lingering.get(topic);
    if (!l) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.lingering.set(topic, (l = { batches: [], records: 0, bytes: 0, done, resolve, reject }));
    }
    l.batches.push(batch);
    l.records += batch.count;
    l.bytes += approxBytes(batch);
    const done = l.done;
    // a full batch's worth goes at once: waiting would only make the next request bigger than a batch
    if (l.records >= this.opts.batchRecords || l.bytes >= this.opts.batchBytes) this.flushTopic(topic);
    else if (this.lingerTimer === undefined) {
      // After a quiet spell the send goes at once; otherwise it waits lingerMs for others to join it (from the first
      // send waiting, as librdkafka's and Java's linger.ms: a steady stream goes out every lingerMs + one gap).
      if (performance.now() - this.lastFlush >= this.lingerMs) this.flush();
      else this.lingerTimer = setTimeout(() => this.flush(), this.lingerMs);
    }
    return done;
  }

  /** Sends everything lingering, one request per leader. */
  private flush(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const topic of [...this.lingering.keys()]) this.flushTopic(topic);
  }

  private flushTopic(topic: string): void {
    const l = this.lingering.get(topic);
    if (!l) return;
    this.lingering.delete(topic);
    this.lastFlush = performance.now();
    this.sendNow(topic, l.batches).then(l.resolve, l.reject);
  }

  private async sendNow(topic: string, batches: OutBatch[]): Promise<void> {
    // Sends may overlap (pipelined writes): each issues its requests only after the previous one issued its own,
    // so batches reach each partition in call order even when compression finishes out of order. The place in
    // line is taken before the first await.
    const previous = this.issued;
    let issued!: () => void;
    this.issued = new Promise<void>((r) => (issued = r));
    try {
      await this.encodeAndDeliver(topic, batches, previous, issued);
    } finally {
      issued();
    }
  }

  private async encodeAndDeliver(topic: string, batches: OutBatch[], previous: Promise<void>, issued: () => void): Promise<void> {
    const meta = await this.topicMeta(topic);
    // Records and their strings are garbage from here on: only the sealed batches wait for the broker.
    const sealed = this.encode(topic, batches, meta.partitions.length);
    if (sealed.length === 0) return;
    await Promise.all(sealed.map((x) => x.records));
    if (this.ident) await this.ident.addPartitions(topic, [...new Set(sealed.map((x) => x.partition))]);
    await previous;
    await this.deliver(topic, sealed, issued);
  }

  /** The records of one or more sends (in order) as record batches, one or more per partition. */
  private encode(topic: string, batches: OutBatch[], n: number): Sealed[] {
    if (this.sticky < 0) this.sticky = Math.floor(Math.random() * n);
    const { batchBytes, batchRecords, compression } = this.opts;
    const builders = new Map<number, BatchBuilder>();
    const sealed: Sealed[] = [];
    const ident = this.ident;
    const seal = (p: number, b: BatchBuilder) => {
      const producer = ident && { producerId: ident.producerId, epoch: ident.epoch, sequence: ident.sequence(topic, p, b.count), transactional: true };
      const records = b.seal(compression, producer);
      sealed.push({ partition: p, records, count: b.count, backing: b.reusable });
      builders.delete(p);
    };
    let total = 0;
    for (const batch of batches) total += batch.count;
    const initial = Math.min(batchBytes + 1024, Math.max(4096, total * 128));
    for (const batch of batches) {
      const { keys, values, timestamps, partitions, headers, lines } = batch;
      const ascii = batch.asciiValues === true;
      const put = (b: BatchBuilder, i: number, limit: number): number =>
        lines ? b.appendBytes(keys[i], lines.buf, lines.starts[i], lines.ends[i], timestamps[i], limit) : b.append(keys[i], values[i], timestamps[i], headers ? headers[i] : undefined, limit, ascii);
      for (let i = 0; i < batch.count; i++) {
        let p = partitions ? partitions[i] : -1;
        const key = keys[i];
        if (p < 0) p = key !== null ? partitionForKey(key, n) : this.sticky;
        else if (p >= n) throw new RuntimeError(`partition ${p} does not exist in \`${topic}\` (it has ${n})`, `use --partition 0..${n - 1}`);
        let b = builders.get(p);
        if (!b) builders.set(p, (b = new BatchBuilder(initial, this.buffers)));
        if (put(b, i, batchBytes) < 0) {
          seal(p, b);
          if (p === this.sticky && key === null && (partitions === undefined || partitions[i] < 0)) {
            // the sticky partition's batch is full: keyless records move on to the next partition
            this.sticky = (this.sticky + 1) % n;
            p = this.sticky;
          }
          b = builders.get(p);
          if (!b) builders.set(p, (b = new BatchBuilder(initial, this.buffers)));
          put(b, i, Infinity);
        }
        if (b.count >= batchRecords) seal(p, b);
      }
    }
    for (const [p, b] of builders) seal(p, b);
    return sealed;
  }

  private issued: Promise<void> = Promise.resolve();

  /** Sends sealed batches to their leaders; resends what failed with a retriable error after a metadata refresh. */
  private async deliver(topic: string, batches: Sealed[], issued: () => void): Promise<void> {
    let pending = batches;
    const limit = this.opts.deliveryTimeoutMs;
    const deadline = limit === undefined ? Infinity : Date.now() + limit;
    /** Waits `ms` before the next try, unless that would pass the delivery deadline: then the send fails with `e`. */
    const retryAfter = async (ms: number, e: unknown): Promise<void> => {
      if (Date.now() + ms > deadline) {
        const err = kafkaError(typeof e === 'number' ? await protocolError(e, topic) : e, { topic });
        throw new RuntimeError(`not acknowledged within ${(limit! / 1000).toFixed(1)} s: ${err.message}`, err.hint);
      }
      await sleep(ms);
    };
    for (let attempt = 0; ; attempt++) {
      let meta: TopicMeta;
      try {
        meta = await this.topicMeta(topic, attempt > 0);
      } catch (e) {
        // the brokers are away (restarting): wait and ask again while the outage is young
        if (!isTransient(e)) throw e;
        await retryAfter(this.wire.outage.failed(e, attempt), e);
        continue;
      }
      const leaderOf = new Map(meta.partitions.map((p) => [p.partition, p.leader]));
      // One request may hold a partition only once: the k-th batch of every partition goes into round k.
      const rounds = new Map<number, Map<number, Sealed[]>>();
      const seen = new Map<number, number>();
      for (const s of pending) {
        const k = seen.get(s.partition) ?? 0;
        seen.set(s.partition, k + 1);
        const leader = leaderOf.get(s.partition) ?? -1;
        let byRound = rounds.get(leader);
        if (!byRound) rounds.set(leader, (byRound = new Map()));
        let round = byRound.get(k);
        if (!round) byRound.set(k, (round = []));
        round.push(s);
      }
      const failed: Sealed[] = [];
      let firstError: unknown;
      const sends: Promise<void>[] = [];
      for (const [leader, byRound] of rounds) {
        for (const k of [...byRound.keys()].sort((a, b) => a - b)) {
          for (const group of await this.split(byRound.get(k)!)) {
            sends.push(this.request(leader, topic, group).then(
              (errs) => { for (const [s, code] of errs) { failed.push(s); firstError ??= code; } },
              (e) => { for (const g of group) failed.push(g.s); firstError ??= e; },
            ));
          }
        }
      }
      issued();
      await Promise.all(sends);
      if (failed.length === 0) {
        // any acknowledgement ends an outage (a send whose first try worked too: the brokers are back)
        this.wire.outage.ok();
        // Acknowledged, so written out long ago. Not after a retry (a timed-out request may still sit in another
        // connection's socket) nor without acknowledgements (the socket may still be reading them).
        if (attempt === 0 && this.opts.acks !== 0) for (const s of batches) if (s.backing) this.buffers.give(s.backing);
        return;
      }
      // An idempotent producer's batch that followed a failed one is refused as out of order: resent with it.
      const retriable = typeof firstError === 'number'
        ? RETRIABLE.has(firstError) || (!!this.ident && firstError === OUT_OF_ORDER_SEQUENCE_NUMBER)
        : isTransient(firstError);
      if (!retriable) throw await this.failure(topic, firstError, failed);
      // a few quick retries for a leader moving; beyond that it is an outage, retried while it is young
      if (attempt < RETRIES) await retryAfter(100 * 2 ** attempt, firstError);
      else {
        let ms: number;
        try {
          ms = this.wire.outage.failed(typeof firstError === 'number' ? await protocolError(firstError, topic) : firstError, attempt);
        } catch {
          throw await this.failure(topic, firstError, failed);
        }
        await retryAfter(ms, firstError);
      }
      pending = failed;
    }
  }

  /** Splits the batches of one round into requests of at most MAX_REQUEST_BYTES. */
  private async split(group: Sealed[]): Promise<{ s: Sealed; records: Buffer }[][]> {
    const out: { s: Sealed; records: Buffer }[][] = [[]];
    let bytes = 0;
    for (const s of group) {
      const records = await s.records;
      if (bytes > 0 && bytes + records.length > MAX_REQUEST_BYTES) {
        out.push([]);
        bytes = 0;
      }
      out[out.length - 1].push({ s, records });
      bytes += records.length;
    }
    return out;
  }

  /** One request; resolves with the batches the broker refused and why. */
  private async request(leader: number, topic: string, group: { s: Sealed; records: Buffer }[]): Promise<[Sealed, number][]> {
    if (leader < 0) return group.map((g) => [g.s, 5]);
    const data: ProduceTopicData = { topic, partitions: group.map((g) => ({ partition: g.s.partition, records: g.records })) };
    const res: ProducePartitionResult[] = await this.wire.produce(leader, this.opts.acks, this.opts.timeoutMs ?? 30_000, [data], this.ident?.transactionalId ?? null);
    const errs: [Sealed, number][] = [];
    for (const r of res) {
      // a resent batch the broker already has (its first send was written, the answer lost): done
      if (r.errorCode === 0 || (r.errorCode === DUPLICATE_SEQUENCE_NUMBER && this.ident)) continue;
      const g = group.find((x) => x.s.partition === r.partition);
      if (g) errs.push([g.s, r.errorCode]);
    }
    return errs;
  }

  private async failure(topic: string, err: unknown, failed: Sealed[]): Promise<Error> {
    const lost = failed.reduce((n, s) => n + s.count, 0);
    // a transactional producer maps fencing to its own error
    if (this.ident && typeof err === 'number' && (err === 47 || err === 90 || err === 49)) return protocolError(err, topic);
    if (typeof err === 'number') {
      if (err === 10 || err === 18) {
        return new RuntimeError(`the broker refused a batch for \`${topic}\` as too large (${lost} records not written)`, 'lower --batch-bytes, or raise the topic\'s max.message.bytes');
      }
      const e = await protocolError(err, topic);
      return kafkaError(e, { cfg: this.wire.cfg, topic });
    }
    return kafkaError(err, { cfg: this.wire.cfg, topic });
  }

  async close(): Promise<void> {
    // connections belong to the client; what lingers goes now (its senders wait for it)
    this.flush();
  }
}


