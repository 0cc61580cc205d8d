/**
 * The metrics of one run (`--metrics`): what the drivers count per batch (records in and out, each stage's batch
 * time, end-to-end latency) and what is read from the run's parts only when scraped (bytes, consumer lag, dropped
 * records by reason, errors, reconnects, windows and state entries), plus the process's own. Names follow
 * Prometheus conventions (`kstream_` prefix, base units, `_total` counters).
 */
import process from 'node:process';
import { eventLoopDelay, type LoopDelay } from '../runtime.js';
import type { PartMetrics } from '../pipeline/stage.js';
import { BATCH_SECONDS, LATENCY_SECONDS, Registry, type Buckets, type Histogram, type Scalar } from './metrics.js';

/** A source, stage or sink as the metrics see it. */
interface MeteredPart {
  readonly name: string;
  counters?(): Record<string, number>;
  metrics?(): PartMetrics;
  /** Called once when --metrics is on: start counting what costs something to count (a sink's string bytes). */
  meter?(): void;
}

/** The event-loop delay histogram's sampling interval (monitorEventLoopDelay). */
const LOOP_RESOLUTION_MS = 20;

/** Counter names of the parts (runner.ts collectCounters) that mean a record was not passed on, by reason. */
const DROPPED = ['late', 'skipped', 'dead-lettered', 'invalid-time', 'duplicates', 'no-id', 'not-recordable', 'no-match', 'no-key', 'null-value', 'side-null-value', 'older-than-history'];
/** Of those, the ones that are bad records (handled by --on-error), not a stage doing its job. */
const ERRORS = new Set(['skipped', 'dead-lettered', 'invalid-time', 'not-recordable']);

/**
 * Every family a run may expose, in exposition order: [type, name, help]. A family with no sample (bytes a source
 * cannot count, lag without a consumer, what a runtime lacks) is left out of the text.
 */
const FAMILIES = {
  recordsIn: ['counter', 'kstream_records_in_total', "Records read by the run's source (stdin lines, Kafka records, generated records)"],
  recordsOut: ['counter', 'kstream_records_out_total', "Records handed to the run's sink (stdout or produce); control lines such as watermarks are not records"],
  bytesIn: ['counter', 'kstream_bytes_in_total', 'Bytes read by the source (stdin)'],
  bytesOut: ['counter', 'kstream_bytes_out_total', 'Bytes written by the sink (stdout bytes; produced record values)'],
  stageSeconds: ['histogram', 'kstream_stage_batch_seconds', 'Time a stage took over one batch'],
  latency: ['histogram', 'kstream_end_to_end_latency_seconds', "Time from a record's timestamp to its hand-over to the sink, sampled once per written batch (its last record)"],
  lagRecords: ['gauge', 'kstream_consumer_lag_records', 'Records of an assigned partition between the next one the pipeline takes and the end of its log at the last fetch'],
  lagSeconds: ['gauge', 'kstream_consumer_lag_seconds', 'While records wait: seconds since the timestamp of the last record the pipeline took (an upper bound on the age of the oldest waiting one); 0 when caught up'],
  dropped: ['counter', 'kstream_records_dropped_total', 'Records not passed on, by reason (the counters of the exit report)'],
  errors: ['counter', 'kstream_errors_total', 'Bad records handled by --on-error (skipped, dead-lettered, invalid time, not recordable)'],
  reconnects: ['counter', 'kstream_reconnects_total', 'Connections to the Kafka brokers restored after an outage'],
  windowsOpen: ['gauge', 'kstream_windows_open', 'Windows a window stage holds open'],
  joinMatches: ['counter', 'kstream_join_matches_total', 'Records a join found a table row for'],
  restoreRecords: ['gauge', 'kstream_state_restore_records', 'Changelog records read to restore the state of the stateful stages, so far'],
  restoreSeconds: ['gauge', 'kstream_state_restore_seconds', 'Seconds the state restore has taken (so far, while kstream_state_restore_done is 0)'],
  restoreDone: ['gauge', 'kstream_state_restore_done', '1 once the state is restored, 0 while it is being read'],
  stateEntries: ['gauge', 'kstream_state_entries', "Entries of a stateful stage's state (accumulators, remembered ids)"],
  cpu: ['counter', 'process_cpu_seconds_total', 'User and system CPU time spent, in seconds'],
  rss: ['gauge', 'process_resident_memory_bytes', 'Resident memory size in bytes'],
  heap: ['gauge', 'nodejs_heap_used_bytes', 'JavaScript heap in use, in bytes'],
  start: ['gauge', 'process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds'],
  loopLag: ['gauge', 'nodejs_eventloop_lag_seconds', 'Mean event loop delay since the previous scrape, in seconds'],
  loopLagP99: ['gauge', 'nodejs_eventloop_lag_p99_seconds', '99th percentile of the event loop delay since the previous scrape, in seconds'],
} as const;

/** Histogram bounds by family. */
const BOUNDS: Partial<Record<keyof typeof FAMILIES, readonly number[]>> = { stageSeconds: BATCH_SECONDS, latency: LATENCY_SECONDS };

type Families = { [K in keyof typeof FAMILIES]: (typeof FAMILIES)[K][0] extends 'histogram' ? Histogram : Scalar };

function register(r: Registry): Families {
  const f: Record<string, Scalar | Histogram> = {};
  for (const [key, [type, name, help]] of Object.entries(FAMILIES)) {
    f[key] = type === 'counter' ? r.counter(name, help) : type === 'gauge' ? r.gauge(name, help) : r.histogram(name, help, BOUNDS[key as keyof typeof FAMILIES]!);
  }
  return f as Families;
}

export class RunMetrics {
  readonly registry = new Registry();
  private readonly f = register(this.registry);
  /** Each stage's batch-time series, by index: looked up once, not per batch. */
  private stageSeries: Buckets[] = [];
  private loopDelay: LoopDelay | undefined;

  constructor() {
    // shown as 0 from the start, not missing until the first batch
    this.f.recordsIn.inc(0);
    this.f.recordsOut.inc(0);
  }

  recordsRead(n: number): void {
    this.f.recordsIn.inc(n);
  }

  recordsWritten(n: number): void {
    this.f.recordsOut.inc(n);
  }

  /** One stage's time over one batch. */
  stageBatch(index: number, seconds: number): void {
    this.stageSeries[index].observe(seconds);
  }

  /** The latency of a record written now whose timestamp is `ts` (epoch ms). */
  latencyOf(ts: number): void {
    this.f.latency.observe(Math.max(0, Date.now() - ts) / 1000);
  }

  /**
   * Reads the parts' own counts at each scrape: bytes in (the source's) and out (the sink's), dropped records by
   * reason and errors from their counters, consumer lag, reconnects, windows and state entries of each stage.
   */
  watch(source: MeteredPart | undefined, stages: readonly MeteredPart[], sink: MeteredPart | undefined, counted = true): void {
    const { bytesIn, bytesOut, dropped, errors, reconnects, lagRecords, lagSeconds, windowsOpen, stateEntries, stageSeconds, joinMatches, restoreRecords, restoreSeconds, restoreDone } = this.f;
    // a stage's label: its index among the stages, and its command
    const labels = stages.map((st, i) => ({ stage: `${i}:${st.name}` }));
    this.stageSeries = labels.map((l) => stageSeconds.at(l));
    const parts = [source, ...stages, sink].filter((p): p is MeteredPart => p !== undefined);
    for (const p of parts) p.meter?.();
    this.registry.collect(() => {
      // each part's counts once per scrape (a Kafka source's lag is a walk over its partitions)
      const counts = parts.map((p) => ({ p, c: p.counters?.(), m: p.metrics?.() }));
      const drop: Record<string, number> = {};
      let errs = 0;
      let rec = 0;
      for (const { c, m } of counts) {
        for (const k of DROPPED) {
          if (!c?.[k]) continue;
          drop[k] = (drop[k] ?? 0) + c[k];
          if (ERRORS.has(k)) errs += c[k];
        }
        rec += m?.reconnects ?? 0;
      }
      // the threaded file path counts in its threads, and their counts arrive only at the end (the exit report):
      // shown as 0 they would tell an alert that nothing was dropped
      if (counted) {
        for (const k of DROPPED) dropped.set(drop[k] ?? 0, { reason: k });
        errors.set(errs);
      }
      reconnects.set(rec);
      const of = (part: MeteredPart | undefined) => counts.find((x) => x.p === part)?.m;
      const src = of(source);
      if (src?.bytes !== undefined) bytesIn.set(src.bytes);
      if (src?.restore) {
        restoreRecords.set(src.restore.entries);
        restoreSeconds.set(src.restore.seconds);
        restoreDone.set(src.restore.done ? 1 : 0);
      }
      const snk = of(sink);
      if (snk?.bytes !== undefined) bytesOut.set(snk.bytes);
      lagRecords.clear();
      lagSeconds.clear();
      for (const l of src?.lag ?? []) {
        const at = { topic: l.topic, partition: String(l.partition) };
        lagRecords.set(l.records, at);
        if (l.seconds !== undefined) lagSeconds.set(l.seconds, at);
      }
      windowsOpen.clear();
      stateEntries.clear();
      stages.forEach((st, i) => {
        const m = of(st);
        const c = counts.find((x) => x.p === st)?.c;
        if (counted && st.name === 'join' && c?.matched !== undefined) joinMatches.set(c.matched, labels[i]);
        if (m?.windowsOpen !== undefined) windowsOpen.set(m.windowsOpen, labels[i]);
        if (m?.stateEntries !== undefined) stateEntries.set(m.stateEntries, labels[i]);
      });
    });
  }

  /**
   * The process's own metrics, as client libraries name them; each only where the runtime has what it needs
   * (Bun and Deno lack some of node's process calls).
   */
  processMetrics(): void {
    const { cpu, rss, heap, start, loopLag: lag, loopLagP99: lagP99 } = this.f;
    if (typeof performance?.timeOrigin === 'number') start.set(Math.round(performance.timeOrigin) / 1000);
    const delay = (this.loopDelay = eventLoopDelay(LOOP_RESOLUTION_MS));
    this.registry.collect(() => {
      if (typeof process.cpuUsage === 'function') {
        const u = process.cpuUsage();
        cpu.set((u.user + u.system) / 1e6);
      }
      const mem = typeof process.memoryUsage === 'function' ? process.memoryUsage() : undefined;
      if (mem?.rss !== undefined) rss.set(mem.rss);
      if (mem?.heapUsed !== undefined) heap.set(mem.heapUsed);
      // no sample yet (a scrape right after start): left out rather than shown as 0
      const d = delay?.read();
      if (d) {
        lag.set(d.mean / 1000);
        lagP99.set(d.p99 / 1000);
      }
      delay?.reset();
    });
  }

  close(): void {
    this.loopDelay?.stop();
    this.loopDelay = undefined;
  }
}
