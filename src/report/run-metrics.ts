/**
 * The metrics of one run (`--metrics`): what the drivers count per batch (records in and out, each stage's batch
 * time, end-to-end latency) and what is read from the run's parts only when scraped (bytes, consumer lag, dropped
 * records by reason, errors, reconnects, windows and state entries), plus the process's own. Kept in the run's
 * RunContext; names follow Prometheus conventions (`kstream_` prefix, base units, `_total` counters).
 */
import process from 'node:process';
import type { PartMetrics } from '../pipeline/stage.js';
import { BATCH_SECONDS, LATENCY_SECONDS, Registry, type Counter, type Histogram } from './metrics.js';

/** A source, stage or sink as the metrics see it. */
export interface MeteredPart {
  readonly name: string;
  counters?(): Record<string, number>;
  metrics?(): PartMetrics;
  /** Called once when --metrics is on: start counting what costs something to count (a sink's string bytes). */
  meter?(): void;
}

/** Counter names of the parts (runner.ts collectCounters) that mean a record was not passed on, by reason. */
const DROPPED = ['late', 'skipped', 'dead-lettered', 'invalid-time', 'duplicates', 'no-id', 'not-recordable'];
/** Of those, the ones that are bad records (handled by --on-error), not a stage doing its job. */
const ERRORS = new Set(['skipped', 'dead-lettered', 'invalid-time', 'not-recordable']);

export class RunMetrics {
  readonly registry = new Registry();
  private readonly recordsIn: Counter;
  private readonly recordsOut: Counter;
  private readonly stageSeconds: Histogram;
  private readonly latency: Histogram;
  /** `stage="<index>:<name>"` label of each stage of the chain, by index. */
  private stageLabels: { stage: string }[] = [];
  private readonly closers: (() => void)[] = [];

  constructor() {
    const r = this.registry;
    this.recordsIn = r.counter('kstream_records_in_total', 'Records read by the run\'s source (stdin lines, Kafka records, generated records)');
    this.recordsOut = r.counter('kstream_records_out_total', 'Records handed to the run\'s sink (stdout or produce), control records (watermarks) included');
    this.stageSeconds = r.histogram('kstream_stage_batch_seconds', 'Time a stage took over one batch', BATCH_SECONDS);
    // shown as 0 from the start, not missing until the first batch
    this.recordsIn.inc(0);
    this.recordsOut.inc(0);
    this.latency = r.histogram('kstream_end_to_end_latency_seconds', 'Time from a record\'s timestamp to its hand-over to the sink, sampled once per written batch (its last record)', LATENCY_SECONDS);
  }

  /** Names the stages for the stage-time labels (their index in the run and command name). */
  stages(names: readonly string[], offset = 0): void {
    this.stageLabels = names.map((n, i) => ({ stage: `${i + offset}:${n}` }));
  }

  recordsRead(n: number): void {
    this.recordsIn.inc(n);
  }

  recordsWritten(n: number): void {
    this.recordsOut.inc(n);
  }

  /** One stage's time over one batch. */
  stageBatch(index: number, seconds: number): void {
    this.stageSeconds.observe(seconds, this.stageLabels[index] ?? { stage: String(index) });
  }

  /** The latency of a record written now whose timestamp is `ts` (epoch ms). */
  latencyOf(ts: number, now = Date.now()): void {
    this.latency.observe(Math.max(0, now - ts) / 1000);
  }

  /**
   * Reads the parts' own counts at each scrape: bytes in (the source's) and out (the sink's), dropped records by
   * reason and errors from their counters, consumer lag, reconnects, windows and state entries of each stage.
   */
  watch(source: MeteredPart | undefined, stages: readonly MeteredPart[], sink: MeteredPart | undefined, offset = 0): void {
    const r = this.registry;
    const bytesIn = r.counter('kstream_bytes_in_total', 'Bytes read by the source (stdin bytes; Kafka record values and keys as fetched)');
    const bytesOut = r.counter('kstream_bytes_out_total', 'Bytes written by the sink (stdout bytes; produced record values and keys)');
    const dropped = r.counter('kstream_records_dropped_total', 'Records not passed on, by reason (the counters of the exit report)');
    const errors = r.counter('kstream_errors_total', 'Bad records handled by --on-error (skipped, dead-lettered, invalid time, not recordable)');
    const reconnects = r.counter('kstream_reconnects_total', 'Connections to the Kafka brokers restored after an outage');
    const lagRecords = r.gauge('kstream_consumer_lag_records', 'Records of an assigned partition between the next one handed to the pipeline and the high watermark of the last fetch');
    const lagSeconds = r.gauge('kstream_consumer_lag_seconds', 'While records wait: seconds since the timestamp of the last record handed to the pipeline (an upper bound on the age of the oldest waiting one); 0 when caught up');
    const windowsOpen = r.gauge('kstream_windows_open', 'Windows a window stage holds open');
    const stateEntries = r.gauge('kstream_state_entries', 'Entries of a stateful stage\'s state (accumulators, remembered ids)');
    const parts = [source, ...stages, sink].filter((p): p is MeteredPart => p !== undefined);
    for (const p of parts) p.meter?.();
    r.collect(() => {
      const drop: Record<string, number> = {};
      let errs = 0;
      let rec = 0;
      for (const p of parts) {
        const c = p.counters?.() ?? {};
        for (const k of DROPPED) {
          if (!c[k]) continue;
          drop[k] = (drop[k] ?? 0) + c[k];
          if (ERRORS.has(k)) errs += c[k];
        }
        rec += p.metrics?.().reconnects ?? 0;
      }
      for (const k of DROPPED) dropped.set(drop[k] ?? 0, { reason: k });
      errors.set(errs);
      reconnects.set(rec);
      const src = source?.metrics?.();
      if (src?.bytes !== undefined) bytesIn.set(src.bytes);
      const snk = sink?.metrics?.();
      if (snk?.bytes !== undefined) bytesOut.set(snk.bytes);
      lagRecords.clear();
      lagSeconds.clear();
      for (const l of src?.lag ?? []) {
        const labels = { topic: l.topic, partition: String(l.partition) };
        lagRecords.set(l.records, labels);
        if (l.seconds !== undefined) lagSeconds.set(l.seconds, labels);
      }
      windowsOpen.clear();
      stateEntries.clear();
      stages.forEach((st, i) => {
        const m = st.metrics?.();
        if (!m) return;
        const labels = { stage: `${i + offset}:${st.name}` };
        if (m.windowsOpen !== undefined) windowsOpen.set(m.windowsOpen, labels);
        if (m.stateEntries !== undefined) stateEntries.set(m.stateEntries, labels);
      });
    });
  }

  /** Counts the threaded file path (pipeline/parallel.ts) reports per chunk instead of per stage. */
  chunk(linesIn: number, recordsOut: number): void {
    this.recordsIn.inc(linesIn);
    this.recordsOut.inc(recordsOut);
  }

  /**
   * The process's own metrics, as client libraries name them; each only where the runtime has what it needs
   * (Bun and Deno lack some of node's process and perf_hooks calls).
   */
  async processMetrics(): Promise<void> {
    const r = this.registry;
    const cpu = r.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds');
    const rss = r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
    const heap = r.gauge('nodejs_heap_used_bytes', 'JavaScript heap in use, in bytes');
    const start = r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds');
    const lag = r.gauge('nodejs_eventloop_lag_seconds', 'Mean event loop delay since the previous scrape, in seconds');
    const lagP99 = r.gauge('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event loop delay since the previous scrape, in seconds');
    const startedAt = typeof performance?.timeOrigin === 'number' ? performance.timeOrigin / 1000 : undefined;
    let delay: { enable(): void; disable(): void; reset(): void; mean: number; percentile(p: number): number } | undefined;
    try {
      const { monitorEventLoopDelay } = await import('node:perf_hooks');
      if (typeof monitorEventLoopDelay === 'function') {
        delay = monitorEventLoopDelay({ resolution: 20 });
        delay.enable();
        this.closers.push(() => delay!.disable());
      }
    } catch {
      delay = undefined; // not in this runtime
    }
    r.collect(() => {
      if (typeof process.cpuUsage === 'function') {
        const u = process.cpuUsage();
        cpu.set((u.user + u.system) / 1e6);
      }
      const mem = typeof process.memoryUsage === 'function' ? process.memoryUsage() : undefined;
      if (mem?.rss !== undefined) rss.set(mem.rss);
      if (mem?.heapUsed !== undefined) heap.set(mem.heapUsed);
      if (startedAt !== undefined) start.set(Math.round(startedAt * 1000) / 1000);
      if (delay) {
        const mean = delay.mean;
        // no sample yet (a scrape right after start) reads as NaN: left out rather than shown as 0
        if (Number.isFinite(mean)) {
          lag.set(mean / 1e9);
          lagP99.set(delay.percentile(99) / 1e9);
        }
        delay.reset();
      }
    });
  }

  close(): void {
    for (const fn of this.closers.splice(0)) fn();
  }
}
