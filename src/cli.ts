#!/usr/bin/env node
import process from 'node:process';
import { colorLevel, paint } from './report/color.js';
import { COMMAND_NAMES } from './pipeline/registry.js';
import { commands } from '../commands/index.js';
import { assemble, contextFor, parseSegment, printHelp, type Segment } from './pipeline/assemble.js';
import { collectCounters, runPipeline } from './pipeline/runner.js';
import { splitFused, splitPipeline } from './pipeline/words.js';
import { KsError, UsageError } from './pipeline/errors.js';
import { NdjsonSource, ReaderGone, StdoutSink } from './io/stdio.js';
import { parallelInput, runParallel } from './pipeline/parallel.js';
import { RunContext } from './pipeline/run-context.js';
import { armSecondCtrlC } from './pipeline/ctrlc.js';
import { writeErr } from './runtime.js';
import type { RunMetrics } from './report/run-metrics.js';

const VERSION = '0.1.0';

async function topHelp(): Promise<void> {
  const specs = await commands.all();
  const lines = [
    `kstream ${VERSION} — stream operations on Apache Kafka, as Unix pipes or fused in one process`,
    '',
    'Usage:',
    '  kstream <command> [args] [options]                 one stage; NDJSON on stdin/stdout',
    '  kstream <command> [args] + <command> [args] ...    stages fused in one process',
    '  kstream run "<command> [args] | <command> ..."      the same, written as one string',
    '',
    'Commands:',
    ...specs.map((s) => `  ${s.name.padEnd(10)} ${s.summary}`),
    '',
    'Examples:',
    "  kstream gen --preset clicks --count 100000 | kstream filter 'r.latency_ms > 50' | kstream stats --field r.latency_ms",
    "  kstream gen --preset clicks --count 100000 + filter 'r.latency_ms > 50' + stats --field r.latency_ms",
    '  kstream bench',
    '',
    'Run `kstream <command> --help` for the options of a command.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** `run` is not a command of its own (it reads a pipeline written as one string), so its help is written here. */
const RUN_HELP = [
  'kstream run "<pipeline>"',
  '',
  'Run a pipeline written as one string, in one process: its stages joined with | (as in a shell) or +, the same',
  'as joining them with + on the command line. Quote it once, for the shell; quote expressions inside it again.',
  '',
  'Examples:',
  '  kstream run "gen --count 10 | filter \'r.ok\'"',
  '  kstream run "consume clicks --exit | window tumbling 1m --time r.ts | aggregate count --by r.page"',
  '',
].join('\n');

async function main(argv: string[]): Promise<number> {
  if ((argv[0] === 'help' && argv[1] === 'run') || (argv[0] === 'run' && argv.length === 2 && (argv[1] === '--help' || argv[1] === '-h'))) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    if (argv[0] === 'help' && argv[1]) {
      printHelp(await commands.load(argv[1]));
      return 0;
    }
    await topHelp();
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`kstream/${VERSION}\n`);
    return 0;
  }
  if (argv[0].startsWith('-')) {
    throw new UsageError(`options go after the command: \`${argv[0]}\``, 'see `kstream --help`');
  }
  const parts = argv[0] === 'run' ? splitPipeline(argv.slice(1).join(' ')) : splitFused(argv);
  if (argv[0] === 'run' && argv.length < 2) throw new UsageError('`run` needs a pipeline', `kstream run "gen --count 10 | filter 'r.ok'"`);
  const segments: Segment[] = [];
  for (const p of parts) {
    const seg = await parseSegment(p, commands);
    if (!seg) return 0; // --help
    segments.push(seg);
  }
  verbose = segments.some((s) => s.opts.verbose);

  if (segments.length === 1 && segments[0].spec.run) {
    const seg = segments[0];
    return seg.spec.run!(seg.args, seg.opts, { ...contextFor(seg, false, 0), stop: stopRequested.signal });
  }
  for (const seg of segments) {
    if (!seg.spec.stage && !seg.spec.source && !seg.spec.sink) {
      throw new UsageError(`\`${seg.spec.name}\` cannot be part of a pipeline`, `run it alone: kstream ${seg.spec.name} --help`);
    }
  }
  armSecondCtrlC();
  const run = new RunContext();
  // dead letters to Kafka load the Kafka layer only for a run that names such a target
  if (segments.some((s) => String(s.opts.onError ?? '').startsWith('dlq=kafka:'))) (await import('./kafka/connect/run.js')).installKafkaLetters(run);
  if (segments.some((s) => s.opts.materialize !== undefined)) (await import('./kafka/connect/run.js')).installMaterialize(run);
  const assembled = assemble(segments, run);
  const { source, stages, sink } = assembled;
  const quiet = segments.some((s) => s.opts.quiet);
  const metrics = await serveMetrics(segments, run, quiet);
  await run.ready();
  let counters: [string, Record<string, number>][];
  let stopped: boolean;
  // A stage reading a pipe does not stop on Ctrl-C/SIGTERM: it drains the pipe to its end. The processes before
  // it got the same signal and close the pipe once they drained; stopping early would drop records they already
  // handed over (and that a consuming group before it already committed). It still exits 130.
  const drainsStdin = source.name === 'stdin' && !process.stdin.isTTY;
  const stop = drainsStdin ? new Promise<void>(() => {}) : interrupted;
  const file = source instanceof NdjsonSource ? parallelInput(segments, stages) : undefined;
  if (assembled.repartition) {
    // state grouped by another key than the input's: two runs joined by a repartition topic (loaded only then)
    const { runRepartitioned } = await import('./kafka/repartition.js');
    const res = await runRepartitioned({ segments, source, stages, plan: assembled.repartition, run, stop, metrics, quiet, log: writeErr }).catch(async (e: unknown) => {
      await run.close().catch(() => undefined);
      throw e;
    });
    counters = res.counters;
    stopped = res.stopped;
  } else if (file && sink instanceof StdoutSink) {
    const res = await runParallel(parts, commands, file, sink, stop, metrics);
    counters = Object.entries(res.counters);
    stopped = res.stopped;
  } else {
    try {
      stopped = (await runPipeline({ source, stages, sink, stop, metrics })) === 'stopped';
    } catch (e) {
      // the dead letters of the records before the failure still go out (a failing flush is not the error to show)
      await run.close().catch(() => undefined);
      throw e;
    }
    counters = collectCounters([source, ...stages, sink]);
  }
  await run.close();
  if (signals > 0) stopped = true;
  for (const [name, c] of counters) {
    const text = Object.entries(c).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ');
    if (text && (!quiet || /skipped|dead-lettered|late|invalid/.test(text))) writeErr(`kstream: ${name}: ${text}`);
  }
  return stopped ? 130 : 0;
}

/**
 * `--metrics <host:port>` (on any segment; several must agree): the run's metrics, served until the run closes
 * (closed with its context). Loaded only for a run that asks.
 */
async function serveMetrics(segments: Segment[], run: RunContext, quiet: boolean): Promise<RunMetrics | undefined> {
  const given = [...new Set(segments.map((s) => s.opts.metrics as string | undefined).filter((m) => m !== undefined))];
  if (given.length === 0) return undefined;
  if (given.length > 1) throw new UsageError(`one run serves one --metrics address, not ${given.map((g) => `\`${g}\``).join(' and ')}`, 'give --metrics once');
  const [{ RunMetrics }, { MetricsServer, parseMetricsAddress }] = await Promise.all([import('./report/run-metrics.js'), import('./report/metrics-server.js')]);
  const at = parseMetricsAddress(given[0]);
  const metrics = new RunMetrics();
  metrics.processMetrics();
  const server = await MetricsServer.listen(metrics.registry, at);
  run.onClose(async () => {
    metrics.close();
    await server.close();
  });
  // the address is said when it was not known before (port 0), or unless --quiet
  if (at.port === 0 || !quiet) writeErr(`kstream: metrics at ${server.url}`);
  return metrics;
}

let verbose = false;
let signals = 0;
let requestStop: () => void = () => {};
const interrupted = new Promise<void>((resolve) => (requestStop = resolve));
/** The same first signal, for the tools (`run` commands: bench, top): ctx.stop. */
const stopRequested = new AbortController();
// First Ctrl-C drains and ends cleanly (exit 130); a second one exits at once.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(130);
    requestStop();
    stopRequested.abort();
  });
}

function report(e: unknown): number {
  if (e instanceof ReaderGone) return 0;
  // the error goes to stderr: its colour follows stderr's terminal and NO_COLOR/FORCE_COLOR, not stdout's
  const red = paint(colorLevel(process.stderr)).red;
  if (e instanceof KsError) {
    const prefix = red('kstream:');
    writeErr(`${prefix} ${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
    if (verbose && e.stack) writeErr(e.stack);
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EPIPE') return 0;
  writeErr(`${red('kstream:')} internal error: ${err?.message ?? String(e)}${verbose ? '' : ' — rerun with --verbose for details, and please report it'}`);
  if (verbose && err?.stack) writeErr(err.stack);
  return 1;
}

// A run whose event loop empties before main() settles waited on something nothing will ever finish: it did not
// succeed, whatever it wrote. Exit 1 and say so, rather than the 0 an empty loop gives. (Once main settles, it
// exits with process.exit, which 'beforeExit' never sees.)
process.exitCode = 1;
process.on('beforeExit', () => {
  writeErr('kstream: internal error: the run stopped before it finished (it was waiting on something that never came) — please report it');
  process.exit(1);
});
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(report(e)),
);

export { COMMAND_NAMES };
