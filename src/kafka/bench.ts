/**
 * `kstream bench --brokers …`: the bench load end to end through a real Kafka topic, in one process.
 *
 * A fresh topic is created (and deleted at the end). The producer side releases generated records on a constant
 * schedule (`--rate`) or flat out (`--rate 0`), in batches, never awaiting one record at a time. The consumer side
 * is kstream's own consume path (KafkaSource: fetch → records decoded for the stages' needs) followed by the
 * `--pipeline` stages and the NDJSON encoder, as `kstream consume t + stages…` runs them, minus the stdout write.
 *
 * Latency: each record's key carries its sequence number, so the consumer finds its intended send time on the same
 * monotonic clock (`t0 + seq / rate`) with sub-millisecond precision — no wall clocks compared, no ms-rounded
 * Kafka timestamps. Measured from the intended time, a stall of the producer, the broker or the consumer shows up in
 * every record it delayed (coordinated omission corrected). Flat out there is no schedule: latency then runs from
 * when the record's batch was handed to the producer. The Kafka timestamp of each record is its intended send time
 * in epoch ms (the generator's `ts` field, via setTimeline), as a real producer stamping CreateTime would.
 *
 * One warm-up record per partition (null key, not counted) goes through before the clock starts, so connection
 * setup and the consumer's first fetch are not charged to the first measured records.
 */
import process from 'node:process';
import type { Commands } from '../pipeline/registry.js';
import { randomBytes } from 'node:crypto';
import type { BuildContext, Opts } from '../pipeline/command.js';
import type { Rec } from '../pipeline/record.js';
import { InProcessPipeline } from '../pipeline/inprocess.js';
import { RuntimeError, UsageError } from '../pipeline/errors.js';
import { createGenerator } from '../loadgen/generator.js';
import { Pacer, Schedule, systemClock } from '../loadgen/rate.js';
import { Hdr, type HdrSummary } from '../report/hdr.js';
import { PLOT_PERCENTILES, writePlot } from '../report/plot.js';
import { colorLevel, group, keyValueTable, paint, percentileTable } from '../report/table.js';
import { parseCount, parseDuration, parseRate } from '../time/duration.js';
import { eventLoopDelay, now, showProgress, wallNow, writeErr } from '../runtime.js';
import type { Bytes, KafkaProducer, OutBatch } from './types.js';
import { openKafka } from './client/open.js';
import { connectionConfig, type KafkaConfig } from './config.js';
import { KafkaRun } from './connect/run.js';
import { KafkaSource } from './connect/source.js';
import { parseOffsets } from './offsets.js';

/** Sends in flight at once: paced sends are small and many, flat-out sends are large. */
const PACED_INFLIGHT = 256;
const FLAT_INFLIGHT = 8;
/**
 * Paced, the producer lingers as `kstream produce` does by default (--linger 5ms): a wake-up of the pacer releases
 * about a millisecond of records, and a request for each (1000 a second at 20k records/s) cost the broker twice the
 * CPU per record, and this process a loopback write per millisecond. Flat-out sends are big enough on their own.
 */
const PACED_LINGER_MS = 5;
/** Distinct records made before a flat-out run (≈ 7 MB of clicks). */
const FLAT_POOL = 65_536;
/** Largest batch one paced wake-up may release (a backlog after a stall goes out in pieces of this size). */
const PACED_BATCH = 16_384;
/** The consumer gives up when nothing new arrived for this long after the last acknowledgement. */
const DRAIN_TIMEOUT_MS = 15_000;
/** No stages: `--pipeline none` (or an empty string) measures consume alone. */
const NO_PIPELINE = new Set(['', 'none']);

export interface KafkaBenchResult {
  mode: 'kafka';
  brokers: string;
  topic: string;
  partitions: number;
  pipeline: string | null;
  preset: string;
  /** Records/s asked for; null = as fast as possible. */
  rate: number | null;
  produced: number;
  consumed: number;
  duplicates: number;
  missing: number;
  /** Records the pipeline wrote (after filters), and their NDJSON bytes (encoded, then discarded). */
  records_out: number;
  out_bytes: number;
  /** Bytes of record values produced. */
  bytes: number;
  /** From the first send to the last acknowledgement. */
  produce_seconds: number;
  produce_records_per_s: number;
  produce_mb_per_s: number;
  /** From the first send to the last record consumed and through the pipeline. */
  consume_seconds: number;
  consume_records_per_s: number;
  consume_mb_per_s: number;
  /** Records sent more than 1 ms after their intended time (paced runs). */
  late: number;
  max_behind_ms: number;
  /** What latency is measured from: the intended send time (paced) or the hand-over to the producer (flat out). */
  latency_from: 'intended send time' | 'send';
  latency_ms: HdrSummary;
  /** Send → acknowledgement of each produce call (the broker's share, plus the client's queueing). */
  ack_ms: HdrSummary;
  /**
   * How late this process's event loop ran while producing (Node's monitorEventLoopDelay; null where the runtime
   * lacks it): a high tail here means the bench process itself was stalled (GC, or no CPU on a busy machine).
   */
  event_loop_delay_ms: { p50: number; p99: number; max: number } | null;
  topic_deleted: boolean;
  /** Stopped early by Ctrl-C (what was sent was still drained and counted). */
  interrupted: boolean;
  plot: [number, number][];
}

interface Settings {
  cfg: KafkaConfig;
  /** Ctrl-C or SIGTERM (the entry point's ctx.stop): the run ends where it stands, with what was measured. */
  stop: AbortSignal;
  /** The command table, for the --pipeline stages. */
  commands: Commands;
  partitions: number;
  pipeline: string | null;
  preset: string;
  seed: number | string;
  rate: number;
  /** Records to send; Infinity = until the deadline. */
  count: number;
  durationMs: number;
  batch: number;
  progress: boolean;
  verbose: boolean;
  log(line: string): void;
}

function settings(opts: Opts, ctx: BuildContext): Settings {
  const rate = opts.rate === undefined ? 0 : parseRate(opts.rate);
  let count = opts.count === undefined ? Infinity : parseCount(opts.count, '--count');
  const durationMs = opts.duration !== undefined ? parseDuration(opts.duration, '--duration') : count === Infinity ? 5000 : Infinity;
  // Paced, the schedule fixes the count: every record due before the end of --duration.
  if (rate > 0 && durationMs !== Infinity) count = Math.min(count, Math.floor((durationMs * rate) / 1000));
  if (count < 1) throw new UsageError('nothing to send', 'use --count ≥ 1, or a --duration long enough for one record at --rate');
  const partitions = parseCount(opts.partitions ?? 3, '--partitions');
  if (partitions < 1) throw new UsageError(`invalid --partitions \`${opts.partitions}\``, 'use at least 1');
  const batch = parseCount(opts.batch ?? 4096, '--batch');
  if (batch < 1) throw new UsageError('--batch must be at least 1');
  const pipeline = opts.pipeline === undefined || NO_PIPELINE.has(String(opts.pipeline).trim()) ? null : String(opts.pipeline);
  return {
    commands: ctx.commands,
    stop: ctx.stop ?? new AbortController().signal,
    cfg: connectionConfig(opts, process.env, ctx.verbose ? ctx.log : undefined),
    partitions,
    pipeline,
    preset: String(opts.preset ?? 'clicks'),
    seed: (opts.seed ?? 1) as number | string,
    rate,
    count,
    durationMs,
    batch,
    progress: !ctx.quiet && showProgress(false),
    verbose: ctx.verbose,
    log: ctx.log,
  };
}

export async function runKafkaBench(opts: Opts, ctx: BuildContext): Promise<number> {
  const s = settings(opts, ctx);
  const r = await benchKafka(s);
  report(r, opts);
  if (r.missing > 0) {
    writeErr(`kstream: bench: ${group(r.missing)} of ${group(r.produced)} records never came back from \`${r.topic}\``);
    return 1;
  }
  return r.interrupted ? 130 : 0;
}

/** Resolved from outside: the consumer's warm-up, the end of the drain. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A growable set of sequence numbers (one byte each: a million records cost 1 MB). */
class SeqSet {
  private bits = new Uint8Array(1 << 16);
  size = 0;
  /** Adds seq; false when it was already there. */
  add(seq: number): boolean {
    if (seq >= this.bits.length) {
      let n = this.bits.length;
      while (n <= seq) n *= 2;
      const next = new Uint8Array(n);
      next.set(this.bits);
      this.bits = next;
    }
    if (this.bits[seq]) return false;
    this.bits[seq] = 1;
    this.size++;
    return true;
  }
}

/** Generated lines handed out in a cycle (flat out: the maximum is Kafka's and kstream's, not the generator's). */
class LinePool {
  private i = 0;
  constructor(private readonly lines: string[]) {}
  take(n: number): string[] {
    const out: string[] = new Array(n);
    const { lines } = this;
    for (let k = 0; k < n; k++) {
      out[k] = lines[this.i];
      if (++this.i === lines.length) this.i = 0;
    }
    return out;
  }
}

/** Send times of flat-out batches: batch k holds seq k·B … (k+1)·B − 1. */
class BatchTimes {
  private t = new Float64Array(1024);
  constructor(readonly batch: number) {}
  set(k: number, time: number): void {
    if (k >= this.t.length) {
      const next = new Float64Array(Math.max(this.t.length * 2, k + 1));
      next.set(this.t);
      this.t = next;
    }
    this.t[k] = time;
  }
  of(seq: number): number {
    return this.t[Math.floor(seq / this.batch)];
  }
}

async function benchKafka(s: Settings): Promise<KafkaBenchResult> {
  const topic = `kstream-bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const stages = s.pipeline !== null ? await InProcessPipeline.create(s.pipeline, s.commands) : InProcessPipeline.empty();
  const gen = createGenerator({ preset: s.preset, seed: s.seed, values: false });

  const admin = await openKafka(s.cfg);
  let source: KafkaSource | undefined;
  let producer: KafkaProducer | undefined;
  let created = false;
  let deleted = false;
  // sending stops at Ctrl-C or SIGTERM (s.stop), or when the consuming side failed
  const halt = new AbortController();
  const stop = halt.signal;
  const onStop = (): void => halt.abort();
  s.stop.addEventListener('abort', onStop, { once: true });
  try {
    await admin.connect();
    await admin.createTopic(topic, { partitions: s.partitions });
    created = true;
    if (s.verbose) s.log(`kstream: bench topic \`${topic}\` (${s.partitions} partitions)`);
    producer = admin.producer({ acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000, lingerMs: s.rate > 0 ? PACED_LINGER_MS : 0 });

    // --- consumer: kstream's consume path, then the stages and the encoder --------------------------------------
    source = new KafkaSource(s.cfg, {
      topics: [topic],
      offsets: parseOffsets('start'),
      exit: false,
      format: 'value',
      isolation: 'read_uncommitted',
      maxWaitMs: 500,
    }, new KafkaRun());
    source.plan = stages.chain.plan();
    const hdr = new Hdr();
    const seen = new SeqSet();
    const warm = deferred();
    let warmSeen = 0;
    let consumed = 0;
    let duplicates = 0;
    let lastConsumed = 0;
    let lastProgressAt = now();
    // Set when the producer is done: how many records must come back.
    let expected = Infinity;
    const drained = deferred();
    // The reference time of each record, set before the first measured send.
    let sentAt: (seq: number) => number = () => NaN;
    let seqs = new Float64Array(4096);
    const src = source;
    const consuming = (async () => {
      for await (const batch of src.batches()) {
        if (seqs.length < batch.length) seqs = new Float64Array(batch.length * 2);
        // Warm-up records (null key) are counted apart and never reach the stages.
        let n = 0;
        let measured: Rec[] = batch;
        for (let i = 0; i < batch.length; i++) {
          const k = batch[i].key;
          if (k === null || k === undefined) {
            if (measured === batch) measured = batch.slice(0, i);
            warmSeen++;
            continue;
          }
          if (measured !== batch) measured.push(batch[i]);
          seqs[n++] = Number(k);
        }
        if (warmSeen >= s.partitions) warm.resolve();
        if (n === 0) continue;
        stages.push(measured);
        const t = now();
        for (let i = 0; i < n; i++) {
          const seq = seqs[i];
          if (!seen.add(seq)) {
            duplicates++;
            continue;
          }
          hdr.record(t - sentAt(seq));
        }
        consumed += n;
        lastConsumed = t;
        lastProgressAt = t;
        if (seen.size >= expected) break;
      }
      drained.resolve();
    })();
    consuming.catch(() => halt.abort());

    // --- warm-up: one record per partition, through both sides, before the clock starts ---------------------------
    const warmBatch: OutBatch = {
      count: s.partitions,
      keys: new Array(s.partitions).fill(null),
      values: new Array(s.partitions).fill('{"warmup":true}'),
      timestamps: new Array(s.partitions).fill(Date.now()),
      partitions: Array.from({ length: s.partitions }, (_, i) => i),
      headers: undefined,
    };
    await producer.send(topic, warmBatch);
    await Promise.race([warm.promise, consuming, timeout(30_000, 'the consumer did not receive the warm-up records within 30 s')]);

    // --- producer ---------------------------------------------------------------------------------------------
    // Flat out, generating records would be part of what is measured: a pool made beforehand is cycled instead.
    const pool = s.rate > 0 ? undefined : new LinePool(gen.nextBatch(Math.min(FLAT_POOL, s.count)).lines);
    const ackHdr = new Hdr();
    // lateness at 1 ms resolution, where the runtime offers it
    const loopDelay = eventLoopDelay(1);
    const t0 = now();
    const wall0 = wallNow();
    const paced = s.rate > 0;
    const schedule = paced ? new Schedule(s.rate) : undefined;
    const pacer = schedule ? new Pacer(schedule, systemClock, t0) : undefined;
    const times = paced ? undefined : new BatchTimes(s.batch);
    if (schedule) {
      gen.setTimeline(wall0, s.rate);
      sentAt = (seq) => t0 + schedule.intendedTime(seq);
    } else {
      sentAt = (seq) => times!.of(seq);
    }
    const deadline = t0 + s.durationMs;
    const inflight: Promise<void>[] = [];
    const maxInflight = paced ? PACED_INFLIGHT : FLAT_INFLIGHT;
    let failure: unknown;
    let sent = 0;
    let acked = 0;
    let bytes = 0;
    let lastAck = t0;
    let lastProgress = t0;
    while (sent < s.count && !stop.aborted && failure === undefined) {
      let n: number;
      if (pacer) {
        n = await pacer.due(sent, Math.min(PACED_BATCH, s.count - sent), stop);
        if (n === 0) break;
      } else {
        if (now() >= deadline) break;
        n = Math.min(s.batch, s.count - sent);
        times!.set(Math.floor(sent / s.batch), now());
      }
      const lines = pool ? pool.take(n) : gen.nextBatch(n).lines;
      const out = outBatch(lines, sent, schedule ? (seq) => Math.floor(wall0 + schedule.intendedTime(seq)) : undefined);
      for (let i = 0; i < n; i++) bytes += (out.values[i] as string).length;
      sent += n;
      const tSend = now();
      inflight.push(producer.send(topic, out).then(
        () => {
          ackHdr.record(now() - tSend);
          acked += n;
          lastAck = now();
        },
        (e) => {
          failure ??= e;
        },
      ));
      if (inflight.length >= maxInflight) await inflight.shift();
      if (s.progress && now() - lastProgress > 1000) {
        lastProgress = now();
        writeErr(`\r  sent ${group(sent)}, acknowledged ${group(acked)}, consumed ${group(consumed)}`.padEnd(70));
      }
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
    const sample = loopDelay?.read();
    loopDelay?.stop();
    const delay = sample ? { p50: sample.p50, p99: sample.p99, max: sample.max } : null;

    // --- drain: wait until every acknowledged record came back (after Ctrl-C too: it only stops the sending) -----
    expected = sent;
    lastProgressAt = now();
    const done = (): boolean => seen.size >= expected;
    while (!done()) {
      const idle = now() - lastProgressAt;
      if (idle > DRAIN_TIMEOUT_MS) break;
      const r = await Promise.race([drained.promise.then(() => 'drained'), consuming.then(() => 'ended'), sleep(Math.min(1000, DRAIN_TIMEOUT_MS - idle + 1))]);
      if (r !== 'slept') break;
      if (s.progress) writeErr(`\r  sent ${group(sent)}, acknowledged ${group(acked)}, consumed ${group(consumed)}`.padEnd(70));
    }
    if (s.progress) writeErr('\r'.padEnd(71) + '\r');
    await source.close();
    await consuming;
    stages.end();
    await admin.deleteTopics([topic]);
    deleted = true;

    const produceSeconds = Math.max((lastAck - t0) / 1000, 1e-6);
    const consumeSeconds = Math.max(((lastConsumed || t0) - t0) / 1000, 1e-6);
    const unique = seen.size;
    return {
      mode: 'kafka',
      brokers: s.cfg.brokers.join(','),
      topic,
      partitions: s.partitions,
      pipeline: s.pipeline,
      preset: s.preset,
      rate: paced ? s.rate : null,
      produced: acked,
      consumed,
      duplicates,
      missing: Math.max(0, acked - unique),
      records_out: stages.outRecords,
      out_bytes: stages.outBytes,
      bytes,
      produce_seconds: +produceSeconds.toFixed(3),
      produce_records_per_s: Math.round(acked / produceSeconds),
      produce_mb_per_s: +(bytes / produceSeconds / 1e6).toFixed(1),
      consume_seconds: +consumeSeconds.toFixed(3),
      consume_records_per_s: Math.round(consumed / consumeSeconds),
      consume_mb_per_s: +((bytes * (consumed / Math.max(acked, 1))) / consumeSeconds / 1e6).toFixed(1),
      late: pacer?.late ?? 0,
      max_behind_ms: +(pacer?.maxBehindMs ?? 0).toFixed(3),
      latency_from: paced ? 'intended send time' : 'send',
      latency_ms: hdr.summary(),
      ack_ms: ackHdr.summary(),
      event_loop_delay_ms: delay,
      topic_deleted: deleted,
      plot: PLOT_PERCENTILES.map((q) => [q, hdr.percentile(q) ?? 0] as [number, number]),
      interrupted: s.stop.aborted,
    };
  } finally {
    s.stop.removeEventListener('abort', onStop);
    if (source) await source.close().catch(() => undefined);
    if (created && !deleted) await admin.deleteTopics([topic]).catch((e) => s.log(`kstream: could not delete bench topic \`${topic}\`: ${(e as Error).message}`));
    await producer?.close().catch(() => undefined);
    await admin.close();
  }
}

/** Producer columns for generated lines: the key is the record's sequence number, the timestamp its intended time. */
function outBatch(lines: string[], firstSeq: number, tsOf: ((seq: number) => number) | undefined): OutBatch {
  const n = lines.length;
  const keys: Bytes[] = new Array(n);
  const timestamps: number[] = new Array(n);
  const wall = Date.now();
  for (let i = 0; i < n; i++) {
    const seq = firstSeq + i;
    keys[i] = String(seq);
    timestamps[i] = tsOf ? tsOf(seq) : wall;
  }
  return { count: n, keys, values: lines, timestamps, partitions: undefined, headers: undefined };
}

const sleep = (ms: number): Promise<'slept'> => new Promise((r) => setTimeout(() => r('slept'), ms));

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => {
    const t = setTimeout(() => reject(new RuntimeError(message, 'check the broker with `kstream topics`')), ms);
    t.unref?.();
  });
}

function report(r: KafkaBenchResult, opts: Opts): void {
  const load = r.rate ? `${group(r.rate)} records/s` : 'as fast as possible';
  if (opts.plot) {
    writePlot(String(opts.plot), [{ label: `${load}, ${r.partitions} partitions`, points: r.plot }], `kstream bench through Kafka: end-to-end latency (from ${r.latency_from})`);
  }
  if (opts.json) {
    const { plot: _plot, ...rest } = r;
    process.stdout.write(JSON.stringify(rest) + '\n');
    return;
  }
  const c = paint(colorLevel(process.stdout));
  const rows: [string, string | number][] = [
    ['brokers', `${r.brokers}, topic ${r.topic} (${r.partitions} partitions, deleted: ${r.topic_deleted ? 'yes' : 'no'})`],
    ['pipeline', r.pipeline ?? '(none: consume only)'],
    ['load', r.rate ? `${load} constant (latency from intended send time)` : `${load} (latency from send)`],
    ['produced / consumed', `${group(r.produced)} / ${group(r.consumed)}${r.duplicates ? `, ${group(r.duplicates)} duplicates` : ''}${r.missing ? `, ${group(r.missing)} MISSING` : ''}`],
    ['records out', group(r.records_out)],
    ['produce', `${group(r.produce_records_per_s)} records/s, ${r.produce_mb_per_s} MB/s (${r.produce_seconds} s to last ack)`],
    ['consume', `${group(r.consume_records_per_s)} records/s, ${r.consume_mb_per_s} MB/s (${r.consume_seconds} s to last record)`],
  ];
  if (r.rate) rows.push(['behind schedule', `${group(r.late)} records sent > 1 ms late (max ${r.max_behind_ms} ms)`]);
  const d = r.event_loop_delay_ms;
  if (d) rows.push(['event loop delay', `p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms (stalls of this process)`]);
  process.stdout.write(keyValueTable(rows, c) + '\n');
  process.stdout.write(percentileTable([
    { label: 'end to end ms', summary: r.latency_ms },
    { label: 'produce ack ms', summary: r.ack_ms },
  ], c) + '\n');
}
