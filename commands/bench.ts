import process from 'node:process';
import type { Commands } from '../src/pipeline/registry.js';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { InProcessPipeline } from '../src/pipeline/inprocess.js';
import { createGenerator } from '../src/loadgen/generator.js';
import { Pacer, Schedule, systemClock } from '../src/loadgen/rate.js';
import { Hdr } from '../src/report/hdr.js';
import { PLOT_PERCENTILES, writePlot } from '../src/report/plot.js';
import { colorLevel, group, keyValueTable, paint, percentileTable } from '../src/report/table.js';
import { parseCount, parseDuration, parseRate } from '../src/time/duration.js';
import { BROKERS_SETTING, SETTINGS_OPTION } from '../src/kafka/config.js';
import { UsageError } from '../src/pipeline/errors.js';
import { now, showProgress, wallNow, writeErr } from '../src/runtime.js';
import type { HttpBenchResult } from '../src/loadgen/http/load.js';

const KAFKA_BENCH = '../src/kafka/bench.js';
const HTTP_BENCH = '../src/loadgen/http/load.js';

export const DEFAULT_PIPELINE = `filter 'r.latency_ms > 50' + map '({user: r.user, ms: r.latency_ms * 1000})'`;

/**
 * The built-in benchmark. In process (default): generated NDJSON → the real decoder → fused stages → encoder →
 * discarded, so it measures what a fused run costs without disk or pipe I/O. Two modes:
 *  - as fast as possible (no --rate): throughput, and how long each record spent in the pipeline (its batch's
 *    residence time);
 *  - constant rate (--rate): records are released on a fixed schedule and each one's latency runs from its
 *    intended release time, so a stall shows up in every record it delayed (coordinated omission corrected).
 * With --brokers the same load goes through a real Kafka topic (see src/kafka/bench.ts); with --http it loads a
 * `kstream serve` gateway over HTTP (see src/loadgen/http/load.ts).
 */
const spec: CommandSpec = {
  name: 'bench',
  args: '',
  summary: 'Benchmark: generator → stages → sink, in process or through Kafka; throughput and HDR latency',
  examples: [
    'kstream bench',
    `kstream bench --rate 200k --duration 10s --pipeline "filter 'r.ok' + map '({u: r.user})'"`,
    'kstream bench --brokers 127.0.0.1:9092 --rate 20000 --duration 20s --plot latency.svg',
    'kstream bench --http localhost:8080 --api-key "$KEY" --streams 1000 --rate 5000 --duration 60s',
  ],
  notes: [
    'With --http, --rate is requests/s over all --streams (each request carries --batch records, an NDJSON body when more than one) and latency runs from each request\'s intended send time: ack (the 202, once Kafka acknowledged) and result (the record back on its stream\'s SSE or WebSocket subscriber, matched by the `seq` the bench puts in each record). Errors are counted by status or connection error; the gateway\'s CPU and RSS come from /proc (--gateway-pid) or its /metrics.',
  ],
  options: [
    { flags: '--pipeline <stages>', kind: 'string', description: 'Stages to run, as one string ("filter … + map …" or "filter … | map …")', default: DEFAULT_PIPELINE },
    { flags: '--preset <name>', description: 'Generator preset: clicks, orders, iot', default: 'clicks' },
    { flags: '--rate <n>', kind: 'rate', description: 'Constant load in records/s (e.g. 200k); 0 or absent = as fast as possible. With --http: requests/s, all streams together (default 1000)' },
    { flags: '--duration <dur>', kind: 'duration', description: 'How long to run (default 5s, or until --count; with --http 10s, after --warmup)' },
    { flags: '--count <n>', kind: 'count', description: 'Stop after this many records' },
    { flags: '--batch <n>', kind: 'count', description: 'Records per batch when running flat out (default 4096); with --http, records per request (default 1)' },
    { flags: '--seed <n>', description: 'Generator seed', default: 1 },
    { flags: '--json', description: 'Print the result as one JSON object' },
    { flags: '--plot <file>', kind: 'file', description: 'Write a latency-by-percentile chart (.svg or .html)' },
    { flags: '--brokers <list>', description: 'Run end to end through Kafka at these brokers instead of in process (SASL and TLS: from the environment or the profile, as for consume)', setting: BROKERS_SETTING },
    { flags: '--partitions <n>', kind: 'int', description: 'With --brokers: partitions of the fresh bench topic', default: 3 },
    { flags: '--http <url>', description: 'Load a `kstream serve` gateway at this URL (host:port or http(s)://…) instead: open loop at --rate requests/s' },
    { flags: '--streams <n>', kind: 'count', description: 'With --http: streams to start, each with one subscriber (default 100)' },
    { flags: '--ws', description: 'With --http: send and receive over each stream\'s WebSocket instead of POST and SSE' },
    { flags: '--warmup <dur>', kind: 'duration', description: 'With --http: load run first at the same rate and left out of the figures (default 2s)' },
    { flags: '--api-key <key>', description: 'With --http: the API key to send (default: $KSTREAM_API_KEY)' },
    { flags: '--connections <n>', kind: 'count', description: 'With --http: most sockets the sends use at once (default: --streams)' },
    { flags: '--gateway-pid <pid>', kind: 'int', description: 'With --http: the gateway\'s process id, to read its CPU and RSS from /proc (default: from its /metrics)' },
    SETTINGS_OPTION,
  ],
  async run(_args, opts, ctx) {
    if (opts.http !== undefined) {
      // Loaded only here: the other modes never import node:http or ws.
      const mod: typeof import('../src/loadgen/http/load.js') = await import(HTTP_BENCH);
      const settings = mod.httpSettings(opts, process.env);
      const progress = !ctx.quiet && showProgress(false);
      const result = await mod.runHttpBench(settings, ctx.stop, progress ? (line) => writeErr(`\r  ${line}`.padEnd(78)) : undefined);
      if (progress) writeErr('\r'.padEnd(79) + '\r');
      reportHttp(result, opts);
      if (result.requests.acked === 0) {
        writeErr(`kstream: bench: no request of ${group(result.requests.sent)} was acknowledged by the gateway${Object.keys(result.errors).length ? ` (${Object.entries(result.errors).map(([k, v]) => `${k}: ${group(v)}`).join(', ')})` : ''}`);
        return 1;
      }
      return result.interrupted ? 130 : 0;
    }
    if (opts.brokers !== undefined) {
      // Loaded only here, so the in-process bench never imports kafkajs.
      const mod: { runKafkaBench(o: Opts, c: typeof ctx): Promise<number> } = await import(KAFKA_BENCH);
      return mod.runKafkaBench(opts, ctx);
    }
    const result = await benchInProcess(opts, !ctx.quiet && showProgress(false), ctx.commands);
    await report(result, opts);
    return 0;
  },
};
export default spec;

export interface BenchResult {
  mode: 'in-process';
  pipeline: string;
  preset: string;
  rate: number | null;
  records_in: number;
  records_out: number;
  seconds: number;
  records_per_s: number;
  /** Throughput of decode → stages → encode alone, generator time excluded. */
  pipeline_records_per_s: number;
  mb_per_s: number;
  late: number;
  max_behind_ms: number;
  latency_ms: ReturnType<Hdr['summary']>;
  /** Latency by percentile for --plot. */
  plot: [number, number][];
}

async function benchInProcess(opts: Opts, progress: boolean, commands: Commands): Promise<BenchResult> {
  const pipeline = String(opts.pipeline);
  const p = await InProcessPipeline.create(pipeline, commands);
  const rate = opts.rate === undefined ? 0 : parseRate(opts.rate);
  const count = opts.count === undefined ? Infinity : parseCount(opts.count, '--count');
  const durationMs = opts.duration !== undefined ? parseDuration(opts.duration, '--duration') : count === Infinity ? 5000 : Infinity;
  const batchMax = parseCount(opts.batch ?? 4096, '--batch');
  if (batchMax < 1) throw new UsageError('--batch must be at least 1');
  const gen = createGenerator({ preset: String(opts.preset), seed: opts.seed, values: false });
  const hdr = new Hdr();
  const pacer = rate > 0 ? new Pacer(new Schedule(rate), systemClock, now()) : undefined;
  if (pacer) gen.setTimeline(wallNow(), rate);

  const t0 = now();
  const deadline = t0 + durationMs;
  let sent = 0;
  let bytesIn = 0;
  let busy = 0; // ms spent in decode → stages → encode
  let lastProgress = t0;
  while (sent < count) {
    let n: number;
    if (pacer) {
      n = await pacer.due(sent, Math.min(batchMax, count - sent));
    } else {
      n = Math.min(batchMax, count - sent);
    }
    const tGen = now();
    const batch = gen.nextBatch(n);
    const chunk = batch.lines.join('\n');
    bytesIn += chunk.length + 1;
    const a = now();
    p.run(chunk, sent + 1);
    const done = now();
    busy += done - a;
    if (pacer) {
      // Latency from each record's intended release time: includes any wait behind a stalled predecessor.
      for (let i = 0; i < n; i++) hdr.record(done - (pacer.t0 + pacer.schedule.intendedTime(sent + i)));
    } else {
      const residence = done - tGen;
      for (let i = 0; i < n; i++) hdr.record(residence);
    }
    sent += n;
    if (done >= deadline) break;
    if (progress && done - lastProgress > 1000) {
      lastProgress = done;
      writeErr(`\r  ${group(sent)} records, ${group(Math.round(sent / ((done - t0) / 1000)))} records/s`.padEnd(60));
    }
    // Flat out, yield to the event loop now and then so Ctrl-C and timers stay responsive.
    if (!pacer && (sent / n) % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  p.end();
  const seconds = (now() - t0) / 1000;
  if (progress) writeErr('\r'.padEnd(61) + '\r');
  return {
    mode: 'in-process',
    pipeline,
    preset: String(opts.preset),
    rate: rate || null,
    records_in: sent,
    records_out: p.outRecords,
    seconds: +seconds.toFixed(3),
    records_per_s: Math.round(sent / seconds),
    pipeline_records_per_s: Math.round(sent / (busy / 1000)),
    mb_per_s: +((bytesIn / (busy / 1000)) / 1e6).toFixed(1),
    late: pacer?.late ?? 0,
    max_behind_ms: +(pacer?.maxBehindMs ?? 0).toFixed(3),
    latency_ms: hdr.summary(),
    plot: PLOT_PERCENTILES.map((q) => [q, hdr.percentile(q) ?? 0] as [number, number]),
  };
}

async function report(r: BenchResult, opts: Opts): Promise<void> {
  if (opts.plot) {
    writePlot(String(opts.plot), [{ label: r.rate ? `${group(r.rate)} records/s` : 'as fast as possible', points: r.plot }], `kstream bench (in process): ${r.pipeline}`);
  }
  if (opts.json) {
    const { plot: _plot, ...rest } = r;
    process.stdout.write(JSON.stringify(rest) + '\n');
    return;
  }
  const c = paint(colorLevel(process.stdout));
  const rows: [string, string | number][] = [
    ['pipeline', r.pipeline],
    ['load', r.rate ? `${group(r.rate)} records/s constant (latency from intended time)` : 'as fast as possible'],
    ['records in / out', `${group(r.records_in)} / ${group(r.records_out)}`],
    ['duration', `${r.seconds} s`],
    ['throughput', `${group(r.records_per_s)} records/s end to end`],
    ['pipeline alone', `${group(r.pipeline_records_per_s)} records/s, ${r.mb_per_s} MB/s (decode → stages → encode)`],
  ];
  if (r.rate) rows.push(['behind schedule', `${group(r.late)} records sent > 1 ms late (max ${r.max_behind_ms} ms)`]);
  process.stdout.write(keyValueTable(rows, c) + '\n');
  process.stdout.write(percentileTable([{ label: r.rate ? 'latency ms' : 'in pipeline ms', summary: r.latency_ms }], c) + '\n');
}


/** `bench --http`: the gateway's figures as a table (or --json), and --plot's two curves. */
function reportHttp(r: HttpBenchResult, opts: Opts): void {
  const load = `${group(r.rate)} requests/s × ${r.batch} record${r.batch > 1 ? 's' : ''} over ${group(r.streams)} streams (${r.transport === 'ws' ? 'WebSocket' : 'POST + SSE'})`;
  if (opts.plot) {
    writePlot(String(opts.plot), [
      { label: 'ack (202)', points: r.plot.ack },
      { label: 'send → result', points: r.plot.result },
    ], `kstream bench --http: ${load}`);
  }
  if (opts.json) {
    const { plot: _plot, ...rest } = r;
    process.stdout.write(JSON.stringify(rest) + '\n');
    return;
  }
  const c = paint(colorLevel(process.stdout));
  const errors = Object.entries(r.errors);
  const rows: [string, string | number][] = [
    ['gateway', r.url],
    ['load', `${load}, latency from intended send time`],
    ['duration', `${r.duration_s} s (after ${r.warmup_s} s warm-up)`],
    ['requests sent / acked / failed', `${group(r.requests.sent)} / ${group(r.requests.acked)} / ${group(r.requests.failed)} of ${group(r.requests.scheduled)}`],
    ['achieved', `${group(r.requests_per_s)} requests/s, ${group(r.records_per_s)} records/s acked; ${group(r.results_per_s)} results/s`],
    ['results', `${group(r.records.results)} of ${group(r.records.acked)} acked records (missing ${group(r.records.missing)}, duplicates ${group(r.records.duplicates)}, misrouted ${group(r.records.misrouted)})`],
    ['errors', errors.length ? errors.map(([k, v]) => `${k}: ${group(v)}`).join(', ') : 'none'],
    ['behind schedule', `${group(r.late)} requests sent > 1 ms late (max ${r.max_behind_ms} ms)`],
    ['connections', `${group(r.connections_opened)} opened (at most ${group(r.connections)}); ${group(r.requests_queued)} requests waited for a free one`],
  ];
  if (r.gateway) {
    const g = r.gateway;
    rows.push(['gateway CPU', `${g.cpu_percent}% of a core (${g.cpu_seconds} s, from ${g.source === 'proc' ? `/proc/${g.pid}` : '/metrics'})`]);
    rows.push(['gateway RSS', `${g.rss_mb_start} → ${g.rss_mb_end} MB, max ${g.rss_mb_max} MB`]);
  } else {
    rows.push(['gateway CPU, RSS', `not measured: ${r.gateway_note}`]);
  }
  const d = r.generator.event_loop_delay_ms;
  rows.push(['this process', `${r.generator.cpu_percent}% of a core${d ? `, event loop delay p99 ${d.p99} ms, max ${d.max} ms` : ''}`]);
  if (r.subscriber_reconnects) rows.push(['subscriber reconnects', group(r.subscriber_reconnects)]);
  if (r.interrupted) rows.push(['interrupted', 'yes: the figures cover what was sent']);
  process.stdout.write(keyValueTable(rows, c) + '\n');
  process.stdout.write(percentileTable([{ label: 'ack ms', summary: r.ack_ms }, { label: 'send → result ms', summary: r.result_ms }], c) + '\n');
}
