/**
 * `produce` as a pipeline Sink. `write(batch)` turns the records into columns (key, value, timestamp, headers,
 * partition), hands them to the producer in one call, and resolves when the broker acknowledged all of them —
 * which is what lets a Kafka source commit its offsets behind it (at-least-once).
 *
 * Values: the record's original text when it has one (NDJSON passes through byte for byte), else its JSON; with
 * `raw`, strings go out without JSON quotes; with `envelope`, each record is a consume envelope (key, headers,
 * partition, timestamp, value).
 */
import { Buffer } from 'node:buffer';
import { encodeValue, type Rec } from '../../pipeline/record.js';
import type { LineSpans } from '../../pipeline/spans.js';
import { mergeNeeds, type FieldNeeds, type PartMetrics, type Sink } from '../../pipeline/stage.js';
import type { RecordErrors } from '../../pipeline/onerror.js';
import { evalExpr, exprFailure, type Expr } from '../../operators/expr.js';
import { type Bytes, type KafkaClient, type KafkaProducer, type OutBatch, type OutHeader, type ProducerOptions } from '../types.js';
import { openKafka } from '../client/open.js';
import { loneRecordBatchBytes, partitionForKey } from '../protocol/records.js';
import type { KafkaConfig } from '../config.js';
import { fromEnvelope as parseEnvelope, NotAnEnvelope } from '../../io/envelope.js';
import { kafkaError, MissingTopic } from '../errors.js';
import { formatBytes, formatDuration } from '../../time/duration.js';
import { UsageError } from '../../pipeline/errors.js';
import type { ExactlyOnce } from './exactly-once.js';
import type { KafkaRun } from './run.js';

export type ProduceMode = 'json' | 'raw' | 'envelope';

/** The header a repartition topic's records carry: the input partition (upstream task) they were read from. */
export const UPSTREAM_HEADER = 'kstream.upstream';

/** One header list per upstream task, shared by its records (nothing allocated per record; never modified). */
const upstreamHeaders: OutHeader[][] = [];
function upstreamHeader(u: number): OutHeader[] {
  return upstreamHeaders[u + 1] ??= [{ key: UPSTREAM_HEADER, value: String(u) }];
}

export interface KafkaSinkOptions extends ProducerOptions {
  topic: string;
  mode: ProduceMode;
  key?: Expr;
  partition?: number;
  headers: OutHeader[];
  /** Create the topic when missing, with this many partitions (undefined = the broker's default). */
  create?: { partitions?: number };
  /**
   * A repartition topic's writer (kafka/connect/repartition.ts): each record goes to the partition Java's
   * partitioner gives this expression's value (the key a later stage groups by) among `partitions`, its own key,
   * value, time and headers unchanged, with a header naming the input partition it came from (its upstream task).
   */
  placeBy?: { expr: Expr; partitions: number };
  lingerMs: number;
  quiet: boolean;
  log(line: string): void;
  errors: RecordErrors;
  clock?: () => number;
}

/**
 * Input bytes (and writes) in flight at once when nothing waits for acknowledgements. A bound on bytes, not on
 * writes: a paced pipe is read a few kB at a time, and four such writes in flight — each waiting for the producer's
 * linger and its ack — stopped the reading, filled the pipe and stalled the writer before it. 4 MB is what four
 * writes of a file read (1 MB each) held before: more made `produce < file` slower (16 MB: 1.64-1.96 s against
 * 1.32-1.88 s for 1M records, and a third more memory).
 */
const MAX_INFLIGHT_BYTES = 4 * 1024 * 1024;
const MAX_INFLIGHT_WRITES = 4096;

/** A cheap bound on loneRecordBatchBytes (UTF-8 takes at most 3 bytes per UTF-16 unit): most records stop here. */
function upperBound(key: Bytes, value: Bytes, headers: readonly OutHeader[] | undefined): number {
  let n = 100 + 3 * ((key === null ? 0 : key.length) + (value === null ? 0 : value.length));
  if (headers) for (const h of headers) n += 20 + 3 * (h.key.length + (h.value === null ? 0 : h.value.length));
  return n;
}

const TOO_LARGE_HINT = "raise the topic's max.message.bytes, or compress with -z";

/** Whether a record of the batch could be over 1000 bytes (one without its text is not known: it could). */
function mayBeLarge(batch: Rec[]): boolean {
  for (const r of batch) {
    if (r.ctl !== undefined) continue;
    const t = r.valueStored ? undefined : r.raw;
    if (t === undefined || t.length > 1000) return true;
  }
  return false;
}

/** Bytes of the longest line of a write. */
function longestSpan(lines: LineSpans): number {
  let most = 0;
  for (let i = 0; i < lines.count; i++) most = Math.max(most, lines.ends[i] - lines.starts[i]);
  return most;
}

function keyBytes(k: unknown): Bytes {
  if (k === null || k === undefined) return null;
  if (typeof k === 'string') return k;
  if (Buffer.isBuffer(k)) return k;
  if (typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint') return String(k);
  return JSON.stringify(k);
}

export class KafkaSink implements Sink {
  readonly name = 'produce';
  readonly reads: FieldNeeds;
  private client: KafkaClient | undefined;
  private producer: KafkaProducer | undefined;
  private ready: Promise<void> | undefined;
  private records = 0;
  private bytes = 0;
  /**
   * The largest record batch the topic takes (max.message.bytes), checked per record before sending when batches
   * go uncompressed: a record that cannot fit follows --on-error with its input position, instead of failing
   * its whole batch at the broker after later batches were already written. Compressed batches are the broker's
   * to judge.
   */
  private maxBatch = Infinity;
  private started = 0;
  private readonly clock: () => number;

  /** The transactions of an --exactly-once run (the consume source of this process made them). */
  private readonly eos: ExactlyOnce | undefined;

  constructor(private readonly cfg: KafkaConfig, private readonly opts: KafkaSinkOptions, private readonly run: KafkaRun) {
    run.writes.add(opts.topic);
    this.reads = mergeNeeds(opts.mode === 'envelope' ? 'all' : opts.key ? opts.key.needs : 'none', opts.placeBy?.expr.needs ?? 'none');
    this.clock = opts.clock ?? (() => performance.now());
    run.useConfig(cfg);
    const eos = (this.eos = run.eos);
    this.writeLines = opts.mode === 'json' && !opts.key && !opts.placeBy && opts.headers.length === 0 && !eos ? (lines) => this.writeSpans(lines) : undefined;
    if (eos) {
      if (opts.acks !== -1) throw new UsageError('--exactly-once writes with --acks all', 'drop --acks, or run without --exactly-once');
      eos.attachSink(opts);
      this.abort = async () => {
        await eos.abort();
        await this.client?.close();
      };
    }
    // Everything that changes nothing on the cluster happens before the first input arrives — connecting, the
    // topic's partitions, its limit, the leader's connection — so a paced pipe's first records go at once instead
    // of waiting one start-up behind (it was 200 ms: the whole of kafkajs loaded for the limit on the first write).
    // Creating a missing topic waits for input. A failure surfaces at the first write or the end.
    this.open().then((exists) => (exists ? this.connect() : undefined)).catch(() => undefined);
  }

  /** Only under --exactly-once: a run failing on a record aborts the open transaction (none of it becomes visible). */
  readonly abort: (() => Promise<void>) | undefined;

  /** Connected, and whether the topic exists: nothing that changes the cluster, so it may start early. */
  private opened: Promise<boolean> | undefined;

  private open(): Promise<boolean> {
    this.opened ??= (async () => {
      const client = (this.client = await openKafka(this.cfg));
      await client.connect();
      return client.topicExists(this.opts.topic);
    })();
    return this.opened;
  }

  /** Ready to send: the topic exists (made now with --create, once the run has input or ends well). */
  private connect(): Promise<void> {
    this.ready ??= (async () => {
      if (!(await this.open())) {
        if (!this.opts.create) throw new MissingTopic(this.opts.topic, `create it with \`kstream topics create ${this.opts.topic}\`, or pass --create [--partitions N]`);
        // refused before the topic is made, not after: a topic too small for --partition is a half-done run
        const p = this.opts.partition;
        if (p !== undefined && p > 0) {
          // without --partitions the topic gets the broker's num.partitions (not known: not checked)
          const n = this.opts.create.partitions ?? Number((await this.client!.brokerConfig('num.partitions').catch(() => null)) ?? NaN);
          if (n <= p) throw new UsageError(`--partition ${p} needs a topic of at least ${p + 1} partitions, and --create would make \`${this.opts.topic}\` with ${n}`, `add --partitions ${p + 1} (or more) — -p/--partition is the partition records go to, --partitions how many a new topic gets`);
        }
        await this.client!.createTopic(this.opts.topic, { partitions: this.opts.create.partitions });
        this.opts.log(`kstream: created topic \`${this.opts.topic}\``);
      }
      // The topic's limit caps every batch (uncompressed, so a compressed one fits too), and is checked per record
      // for uncompressed batches. A principal without DescribeConfigs rights still produces, unchecked.
      const limit = await this.client!.topicConfig(this.opts.topic, 'max.message.bytes').then(Number, () => NaN);
      let batchBytes = this.opts.batchBytes;
      if (limit > 0) {
        batchBytes = Math.min(batchBytes, limit);
        if (this.opts.compression === 'none') this.maxBatch = limit;
      }
      this.batchLimit = batchBytes;
    })();
    return this.ready;
  }

  /** The batch size the topic's limit allows (known once connected). */
  private batchLimit = 0;

  /**
   * The producer, made at the first send: its linger depends on `pipelined`, which the runner sets only when the
   * run starts, after the sink may have connected (it connects as it is built).
   */
  private sender(): KafkaProducer {
    // Lingering only helps writes that do not wait for their acks: with a Kafka source each write waits for its
    // own, and nothing could join its request.
    return (this.producer ??= this.client!.producer({ ...this.opts, batchBytes: this.batchLimit, lingerMs: this.pipelined ? this.opts.lingerMs : 0 }));
  }

  /**
   * Set by the runner when no source waits for acknowledgements (stdin, gen): writes then return once handed to
   * the producer, and up to MAX_INFLIGHT_BYTES of them stay in flight, overlapping the broker's work (and the
   * producer's --linger) with reading and encoding the next ones; `end` waits for all. With a Kafka source
   * (offset commits) every write waits for its ack.
   */
  pipelined = false;
  private readonly inflight: { sent: Promise<void>; bytes: number }[] = [];
  private inflightBytes = 0;
  private failure: unknown;

  /** Before a write: an earlier write's failure surfaces, the clock starts, the topic is ready. */
  private begin(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.started === 0) this.started = this.clock();
    return this.connect();
  }

  async write(batch: Rec[]): Promise<void> {
    const ready = this.begin();
    // as for lines: a record long enough that the topic's limit may refuse it waits until the limit is known
    if (!this.pipelined || mayBeLarge(batch)) await ready;
    const out = this.columns(batch);
    const bad = this.badRecord;
    this.badRecord = undefined;
    await this.submit(out, bad, ready);
  }

  /**
   * Set when every record is an input line as it is, with no key or headers to compute (json values of stdin):
   * the lines go into record batches straight from the input bytes (pipeline/spans.ts).
   */
  readonly writeLines: ((spans: LineSpans) => Promise<void>) | undefined;

  private async writeSpans(lines: LineSpans): Promise<void> {
    const ready = this.begin();
    // a pipelined write need not wait for the connection, unless a line is long enough that the topic's limit
    // (known once connected) may refuse it
    if (!this.pipelined || longestSpan(lines) > 1000) await ready;
    const bad = this.maxBatch !== Infinity ? this.checkSpans(lines) : undefined;
    const n = lines.count;
    const { partition } = this.opts;
    const bytes = lines.bytes();
    this.bytes += bytes;
    await this.submit({
      count: n,
      keys: new Array<Bytes>(n).fill(null),
      values: [],
      lines,
      timestamps: new Array<number>(n).fill(Date.now()),
      partitions: partition !== undefined ? new Array<number>(n).fill(partition) : undefined,
      headers: undefined,
      bytes,
    }, bad, ready);
  }

  /**
   * Sends the columns of a write (`bytes` of values) once `ready`; `bad`: the record that stopped the batch, thrown
   * once the rest is written. --linger is the producer's: it may hold the batch that long for later writes to join
   * its request.
   *
   * Pipelined writes do not wait for the connection either: they queue behind it, within MAX_INFLIGHT_BYTES, in
   * order, and go out the moment it is up. Waiting stopped the reading for as long as loading the client and
   * connecting took (100-300 ms on a busy machine) while `gen` before the pipe had started its schedule: it blocked
   * on the full pipe, and once produce read again it still had to make the backlog before it could be sent.
   */
  private async submit(out: OutBatch, bad: unknown, ready: Promise<void>): Promise<void> {
    const bytes = out.bytes ?? 0;
    if (out.count === 0) {
      if (bad !== undefined) {
        await ready;
        throw bad;
      }
      return;
    }
    // nothing of the batch but its count stays referenced here while it is in flight
    const count = out.count;
    const sent = ready.then(() => (this.eos ? this.eos.send(this.opts.topic, out) : this.sender().send(this.opts.topic, out))).then(
      () => { this.records += count; },
      (e) => { this.failure ??= kafkaError(e, { cfg: this.cfg, topic: this.opts.topic }); },
    );
    if (!this.pipelined || bad !== undefined) await sent;
    else {
      this.inflight.push({ sent, bytes });
      this.inflightBytes += bytes;
      while (this.inflightBytes > MAX_INFLIGHT_BYTES || this.inflight.length > MAX_INFLIGHT_WRITES) {
        const first = this.inflight.shift()!;
        await first.sent;
        this.inflightBytes -= first.bytes;
      }
    }
    if (this.failure !== undefined) throw this.failure;
    if (bad !== undefined) {
      // the records before the bad one are written (and acknowledged) before the run fails on it
      await this.drain();
      throw bad;
    }
  }

  private tooLarge(size: number): string {
    return `record too large for \`${this.opts.topic}\`: ${size} bytes as a record batch (${formatBytes(size)}), and the topic takes at most ${this.maxBatch} (max.message.bytes)`;
  }

  /** Lines too large for the topic (see maxBatch) follow --on-error; returns the failure when one stops the run there. */
  private checkSpans(lines: LineSpans): unknown {
    const { starts, ends } = lines;
    // a line alone in a batch takes its bytes and at most 78 more (batch header, record framing, empty key)
    const room = this.maxBatch - 78;
    for (let i = 0; i < lines.count; i++) {
      const len = ends[i] - starts[i];
      if (len <= room) continue;
      const size = loneRecordBatchBytes(null, lines.buf.subarray(starts[i], ends[i]), undefined);
      if (size <= this.maxBatch) continue;
      try {
        this.opts.errors.handle(lines.where(i), this.tooLarge(size), lines.buf.toString('utf8', starts[i], ends[i]), TOO_LARGE_HINT);
      } catch (e) {
        lines.count = i;
        return e;
      }
      lines.remove(i--);
    }
    return undefined;
  }

  /** Waits for every write in flight. */
  private async drain(): Promise<void> {
    const all = this.inflight.splice(0);
    this.inflightBytes = 0;
    await Promise.all(all.map((w) => w.sent));
  }

  /** A bad record that fails the run (--on-error fail), found while building columns: the batch stops before it. */
  private badRecord: unknown;

  /** Applies --on-error to a record the sink cannot write; false when it fails the run (the batch ends there). */
  private reject(rec: Rec, reason: string, hint?: string): boolean {
    try {
      this.opts.errors.handle(rec.where(), reason, rec.raw ?? rec.value, hint);
      return true;
    } catch (e) {
      this.badRecord = e;
      return false;
    }
  }

  /** The records of a batch as producer columns; control records and records failing --key are left out. */
  private columns(batch: Rec[]): OutBatch {
    const { mode, key: keyExpr, partition, headers: extra, placeBy } = this.opts;
    const n = batch.length;
    const keys: Bytes[] = new Array(n);
    const values: Bytes[] = new Array(n);
    const timestamps: number[] = new Array(n);
    let partitions: number[] | undefined = partition !== undefined || placeBy ? new Array(n) : undefined;
    let headers: (OutHeader[] | undefined)[] | undefined;
    const now = Date.now();
    let count = 0;
    let bytes = 0;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const rec = batch[i];
      if (rec.ctl !== undefined) continue;
      let key: Bytes;
      let value: Bytes;
      let ts = rec.ts ?? now;
      let part = partition ?? -1;
      let hs: OutHeader[] | undefined;
      const fromEnvelope = rec.stored !== undefined && rec.stored.line !== undefined;
      if (mode === 'envelope' && !fromEnvelope) {
        let env;
        try {
          env = parseEnvelope(rec.fullValue(), rec.raw);
        } catch (e) {
          if (!(e instanceof NotAnEnvelope)) throw e;
          if (this.reject(rec, `${e.message} — --envelope expects lines written by \`kstream consume --format envelope\``)) continue;
          break;
        }
        key = env.key;
        value = env.value;
        if (env.timestamp !== undefined) ts = env.timestamp;
        if (partition === undefined && env.partition !== undefined) {
          partitions ??= new Array(n).fill(-1);
          part = env.partition;
        }
        hs = env.headers;
      } else {
        // A record read from Kafka (or from an envelope) keeps what no stage replaced as it was stored: a
        // tombstone stays null, text stays unquoted, binary keys and values stay bytes, headers keep their bytes.
        const st = rec.stored;
        if (st !== undefined && rec.valueStored) {
          value = st.value(rec.si) as Buffer | null;
          ascii = false;
        } else if (mode === 'raw' && typeof rec.value === 'string' && !rec.partial) {
          value = rec.value;
          // ASCII is known of the record's text: here that is the value only when the value is the line itself
          ascii &&= rec.ascii && rec.raw === value;
        } else {
          const raw = rec.raw;
          if (raw !== undefined) {
            value = raw;
            ascii &&= rec.ascii;
          } else {
            value = encodeValue(rec);
            ascii = false;
          }
        }
        if (st !== undefined) {
          key = st.key(rec.si) as Buffer | null;
          hs = st.headers(rec.si) as OutHeader[] | undefined;
          // a record read from an envelope (`filter --envelope … + produce --envelope`) goes where its envelope
          // says, as the same pipe would send it
          const p = mode === 'envelope' && partition === undefined ? st.partition(rec.si) : null;
          if (p !== null) {
            partitions ??= new Array(n).fill(-1);
            part = p;
          }
        } else {
          key = rec.key as Bytes;
          hs = rec.headers as OutHeader[] | undefined;
        }
      }
      if (keyExpr) {
        try {
          key = keyBytes(evalExpr(keyExpr, rec));
        } catch (e) {
          if (this.reject(rec, exprFailure(keyExpr, e))) continue;
          break;
        }
      } else key = keyBytes(key);
      if (extra.length) hs = hs ? [...hs, ...extra] : extra;
      if (placeBy) {
        try {
          const k = keyBytes(evalExpr(placeBy.expr, rec));
          part = k === null ? 0 : partitionForKey(k, placeBy.partitions);
        } catch (e) {
          if (this.reject(rec, exprFailure(placeBy.expr, e))) continue;
          break;
        }
        const from = upstreamHeader((rec.src as { partition?: number } | undefined)?.partition ?? -1);
        hs = hs ? [...hs, from[0]] : from;
      }
      if (this.maxBatch !== Infinity && upperBound(key, value, hs) > this.maxBatch) {
        const size = loneRecordBatchBytes(key, value, hs);
        if (size > this.maxBatch && !this.reject(rec, this.tooLarge(size), TOO_LARGE_HINT)) break;
        if (size > this.maxBatch) continue;
      }
      if (hs && hs.length) {
        headers ??= new Array(n);
        headers[count] = hs;
      }
      if (partitions) partitions[count] = part;
      keys[count] = key;
      values[count] = value;
      timestamps[count] = ts;
      if (value !== null) bytes += typeof value === 'string' ? value.length : value.length;
      count++;
    }
    this.bytes += bytes;
    keys.length = values.length = timestamps.length = count;
    if (partitions) partitions.length = count;
    if (headers) headers.length = count;
    return { count, keys, values, asciiValues: ascii && mode !== 'envelope', timestamps, partitions, headers, bytes };
  }

  async end(): Promise<void> {
    try {
      // even with no input, a missing topic is an error (or is created with --create)
      await this.connect();
      await this.drain();
      if (this.failure !== undefined) throw this.failure;
      // the last transaction: what was written since the last input batch committed, dead letters included
      if (this.eos) {
        await this.run.flushLetters();
        await this.eos.finish();
      }
      if (!this.opts.quiet && this.started > 0) {
        const secs = Math.max((this.clock() - this.started) / 1000, 1e-3);
        const rate = Math.round(this.records / secs);
        this.opts.log(`kstream: produced ${this.records} ${this.records === 1 ? 'record' : 'records'} (${formatBytes(this.bytes)}) to \`${this.opts.topic}\` in ${formatDuration(Math.round(secs * 1000))}, ${rate} records/s`);
      } else if (!this.opts.quiet && this.records === 0) {
        this.opts.log(`kstream: produced 0 records to \`${this.opts.topic}\``);
      }
    } finally {
      await this.producer?.close();
      await this.client?.close();
    }
  }

  async endFailed(): Promise<void> {
    try {
      // nothing was written when the run never got ready to (a bad first line): no topic is made for it
      if (this.ready !== undefined) await this.drain();
    } finally {
      // a connect still in progress (it starts as the sink is built) ends before the client closes under it
      await this.ready?.catch(() => undefined);
      await this.producer?.close();
      await this.client?.close();
    }
  }

  metrics(): PartMetrics {
    return { bytes: this.bytes, reconnects: this.client?.reconnects?.() ?? 0 };
  }

  counters(): Record<string, number> {
    const e = this.opts.errors;
    return e.count ? { [e.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: e.count } : {};
  }
}


