import { Chain } from './chain.js';
import { cac } from 'cac';
import type { BuildContext, CommandSpec, OptionSpec, Opts } from './command.js';
import type { Commands } from './registry.js';
import { closest, UsageError } from './errors.js';
import { protectOptionValues, restoreOptionValues } from './option-text.js';
import { parseOnError, RecordErrors } from './onerror.js';
import { RunContext } from './run-context.js';
import { isStateful, type Carried, type Sink, type Source, type Stage } from './stage.js';
import { Tasks } from './tasks.js';
import { NdjsonSource, StdoutSink } from '../io/stdio.js';
import { writeErr } from '../runtime.js';
import process from 'node:process';
import { applySettings, checkUnknown, dashed, optionInfo, settingsOf, splitSetting, supportedSettings, typeOptions } from '../cli/options.js';
import { helpText } from '../cli/help.js';

/** One parsed segment of the command line: the command and its own arguments and options. */
export interface Segment {
  spec: CommandSpec;
  args: string[];
  opts: Opts;
  /** The table it was parsed with, passed on to the command (BuildContext.commands). */
  commands: Commands;
}

const COMMON: OptionSpec[] = [
  { flags: '-q, --quiet', description: 'No progress or summary lines on stderr' },
  { flags: '-v, --verbose', description: 'More detail in errors and summaries' },
];
const RECORD_OPTIONS: OptionSpec[] = [
  { flags: '--metrics <host:port>', description: 'Serve Prometheus metrics of the run at `http://<host:port>/metrics` while it lasts (`:9464` is 127.0.0.1:9464; `0.0.0.0:9464` listens on every interface; port 0 takes a free one, shown on stderr)' },
  { flags: '--on-error <policy>', description: 'Bad records: fail (default) | skip (count them) | dlq=<file> or dlq=kafka:<topic> (set them aside)', default: 'fail', choices: ['fail', 'skip', 'dlq=<file>', 'dlq=kafka:<topic>'] },
];
const STAGE_OPTIONS: OptionSpec[] = [
  { flags: '--no-watermarks', description: 'Leave watermark control lines out of the output (for non-kstream readers)' },
  { flags: '--envelope', description: 'Read and write consume envelopes (`consume --format envelope`): r is the value; key, ts and headers come from the envelope; unchanged records go out as they came' },
];

export function optionsOf(spec: CommandSpec): OptionSpec[] {
  const composable = !!(spec.stage || spec.source || spec.sink);
  return [...spec.options, ...(composable ? RECORD_OPTIONS : []), ...(spec.stage ? STAGE_OPTIONS : []), ...COMMON];
}

function cacFor(spec: CommandSpec) {
  const cli = cac('kstream');
  const cmd = cli.command(`${spec.name} ${spec.args}`.trim(), spec.summary);
  for (const o of optionsOf(spec)) cmd.option(o.flags, o.description, o.default !== undefined ? { default: o.default } : undefined);
  for (const ex of spec.examples) cmd.example(ex);
  cli.help();
  return cli;
}

/** Parses one segment; returns undefined when it asked for --help (already printed). */
export async function parseSegment(words: string[], commands: Commands): Promise<Segment | undefined> {
  const spec = await commands.load(words[0]);
  const cli = cacFor(spec);
  let parsed: { args: readonly string[]; options: Opts };
  const options = optionsOf(spec);
  const argv = attachedValues(words, options);
  if (argv.slice(1).some((a) => a === '--help' || a === '-h')) {
    printHelp(spec);
    return undefined;
  }
  const given = checkUnknown(argv.slice(1), options, spec.name);
  try {
    const kept = protectOptionValues(argv.slice(1), options);
    parsed = cli.parse(['node', 'kstream', argv[0], ...kept.argv], { run: false });
    restoreOptionValues(parsed.options, kept.typed);
    const cmd = cli.matchedCommand!;
    cmd.checkUnknownOptions();
    cmd.checkOptionValue();
    // arguments after `--` (an expression starting with "-") count too: checked below, once merged
    if (!argv.includes('--')) cmd.checkRequiredArgs();
  } catch (e) {
    const msg = (e as Error).message.replace(/^Unknown option/, 'unknown option').replace(/^missing required args for command `[^`]*`/, `missing ${spec.args} for \`${spec.name}\``);
    throw new UsageError(`${msg}`, `see \`kstream ${spec.name} --help\``);
  }
  // Positional arguments stay strings (mri turns "10" into 10); everything after "--" is positional too.
  const args = [...parsed.args, ...((parsed.options['--'] as string[]) ?? [])].map(String);
  const required = (spec.args.match(/<[^>]+>/g) ?? []).length;
  if (args.length < required) throw new UsageError(`missing ${spec.args} for \`${spec.name}\``, `see \`kstream ${spec.name} --help\``);
  const opts = typeOptions(parsed.options, options);
  await checkSettings(opts, options, spec.name, commands);
  return { spec, args, opts: applySettings(opts, options, given), commands };
}

/**
 * A one-letter option with its value attached, as getopt reads it (kcat's `-Xkey=value`, `-n10`, `-p0`): split into
 * the option and its value. Not after `--`, and not a word that is itself the value of the option before it.
 */
function attachedValues(words: string[], options: readonly OptionSpec[]): string[] {
  const valued = new Set(options.map(optionInfo).filter((o) => o.value).flatMap((o) => o.names.map(dashed)));
  const out: string[] = [];
  let isValue = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') return out.concat(words.slice(i));
    if (!isValue && /^-[A-Za-z]./s.test(w) && valued.has(w.slice(0, 2))) out.push(w.slice(0, 2), w.slice(2));
    else out.push(w);
    isValue = !isValue && valued.has(w);
  }
  return out;
}

/**
 * `-X` keys the command does not take, refused by name: with the commands that do take it, if any, and the keys
 * this one supports (which may be none: `-X` is only on commands with settings).
 */
async function checkSettings(opts: Opts, options: readonly OptionSpec[], command: string, commands: Commands): Promise<void> {
  if (opts.X === undefined) return;
  const mine = settingsOf(options);
  for (const item of opts.X as string[]) {
    const [key] = splitSetting(item);
    if (mine.has(key)) continue;
    const supported = supportedSettings(options);
    const list = `kstream ${command} supports: ${supported.join(', ')}`;
    const others = (await commands.all()).filter((s) => s.name !== command && settingsOf(optionsOf(s)).has(key)).map((s) => s.name);
    if (others.length) throw new UsageError(`client setting \`${key}\` is for ${others.map((n) => `\`${n}\``).join(', ')}, not \`${command}\``, list);
    const near = closest(key, supported);
    throw new UsageError(`unknown client setting \`${key}\``, `${near ? `did you mean \`${near}\`? ` : ''}${list}`);
  }
}

export function printHelp(spec: CommandSpec): void {
  process.stdout.write(helpText(spec, optionsOf(spec)));
}

/** What records carry when nothing says otherwise (a source that builds no context, a tool). */
const NOTHING: Carried = { key: false, ts: false, headers: false };

export function contextFor(seg: Segment, fused: boolean, index: number, carries: Carried = NOTHING, run = new RunContext()): BuildContext {
  const onError = parseOnError(seg.opts.onError);
  return {
    commands: seg.commands,
    fused,
    index,
    carries,
    run,
    errors: (stage) => new RecordErrors(onError, stage, run),
    onError,
    quiet: !!seg.opts.quiet,
    verbose: !!seg.opts.verbose,
    log: (line) => writeErr(line),
  };
}

export interface Assembled {
  source: Source;
  stages: Stage[];
  sink: Sink;
  segments: Segment[];
  /**
   * The stateful stages group by a key other than the one the input is partitioned by: the run must go through a
   * repartition topic before stages[at] (kafka/connect/repartition.ts) to split its state by partition.
   */
  repartition?: Repartition;
}

/** Where a run's records must be placed by another key before its state: stages[at] on, grouped by `by`. */
export interface Repartition {
  at: number;
  /** The first stage grouping by it (names the topic: `<group>-<stage>-repartition`). */
  stage: string;
  /** Its key expressions (none: one group for every record). */
  by: readonly string[];
}

/**
 * `--envelope` on a stage is about the pipe it faces: the first stage reads envelopes from stdin, the last one
 * writes them to stdout. Anywhere else it would mean nothing (fused records keep their key, time and headers), and
 * after `consume --format envelope` the records are envelopes already: both are refused rather than ignored.
 */
function checkEnvelopeFlags(segments: Segment[], from: number, to: number, toSink: boolean, source: Source): void {
  for (let i = from; i < to; i++) {
    const seg = segments[i];
    if (!seg.spec.stage || !seg.opts.envelope) continue;
    const readsStdin = i === 0;
    const writesStdout = i === segments.length - 1 && !toSink;
    if (!readsStdin && !writesStdout) {
      throw new UsageError(`\`${seg.spec.name} --envelope\` is inside a fused run, where records keep their key, time and headers`, '--envelope belongs on the first stage of a run that reads envelopes from stdin, or on the last one to write envelopes to stdout');
    }
    if (writesStdout && !readsStdin && source.envelopes) {
      throw new UsageError('`consume --format envelope` records are envelopes already', `drop --format envelope: fused, records keep their key, time and headers, and \`${seg.spec.name} --envelope\` writes them as envelopes`);
    }
  }
}

/**
 * Builds source, stages and sink from parsed segments. A first segment that is a source (consume, gen) feeds the
 * run, else stdin does; a last segment that is a sink (produce) ends it, else stdout does. Everything between
 * must be a stage.
 */
/**
 * `how.repartition: false`: a caller that runs the pipeline itself (the gateway) gets no repartition plan — state
 * grouped by another key than the record key then stays whole, as one process per group.
 */
export function assemble(segments: Segment[], run = new RunContext(), given?: Source, how: { repartition?: boolean } = {}): Assembled {
  const fused = segments.length > 1 || given !== undefined;
  const first = segments[0];
  const last = segments[segments.length - 1];
  let from = 0;
  let to = segments.length;
  let source: Source;
  if (given) source = given;
  else if (first.spec.source && !(segments.length === 1 && first.spec.sink)) {
    source = first.spec.source(first.args, first.opts, contextFor(first, fused, 0, NOTHING, run));
    from = 1;
  } else {
    const errors = new RecordErrors(parseOnError(first.opts.onError), 'stdin', run);
    source = first.spec.stdin?.(first.opts, errors) ?? new NdjsonSource(errors, undefined, first.spec.stage !== undefined && !!first.opts.envelope);
  }
  let carries = source.carries ?? NOTHING;
  const toSink = !!(last.spec.sink && segments.length - 1 >= from);
  if (toSink) to -= 1;
  checkEnvelopeFlags(segments, from, to, toSink, source);
  const stages: Stage[] = [];
  /** What the records carry as they reach each stage. */
  const carriedTo: Carried[] = [];
  for (let i = from; i < to; i++) {
    const seg = segments[i];
    if (!seg.spec.stage) {
      const role = seg.spec.source ? 'a source: it can only come first' : seg.spec.sink ? 'a sink: it can only come last' : 'not a pipeline stage';
      throw new UsageError(`\`${seg.spec.name}\` is ${role}`, 'see `kstream --help`');
    }
    const stage = seg.spec.stage(seg.args, seg.opts, contextFor(seg, fused, i, carries, run));
    carriedTo.push(carries);
    if (stage.gives) carries = { ...carries, ...stage.gives, what: carries.what };
    stages.push(stage);
  }
  const repartition = source.partitionedState ? taskStages(source, stages, segments.slice(from, to), carriedTo, fused, from, run, how.repartition !== false) : undefined;
  // under --exactly-once state is restored once partitions are assigned, after the stages opened their side inputs
  const early = stages.find((st) => st.atLeastOnceOnly !== undefined);
  if (early && source.ackEachBatch) {
    throw new UsageError(
      `${early.atLeastOnceOnly} cannot run under --exactly-once yet: its side's position is part of its state, which is restored there only after the side has started reading`,
      'drop --exactly-once: after consume --group the join is at-least-once, its held records and the side\'s position checkpointed with the offsets',
    );
  }
  let sink: Sink;
  // the run goes through a repartition topic: its sink is the second run's, built there (nothing opened here)
  if (repartition) sink = { name: 'repartitioned', write() {}, end() {} };
  else if (toSink) sink = last.spec.sink!(last.args, last.opts, contextFor(last, fused, segments.length - 1, carries, run));
  else {
    const format = source.rawOutput ? 'raw' : last.spec.stage && last.opts.envelope ? 'envelope' : 'ndjson';
    sink = new StdoutSink(last.opts.watermarks === false, format);
  }
  return { source, stages, sink, segments, repartition };
}

/**
 * Whether every per-key state of the span is grouped by the record key — the key Kafka placed the input by, so
 * each key's records are in one partition. A per-key window groups for the aggregate after it.
 */
export function byRecordKey(span: readonly Stage[]): boolean {
  let windowKeyed = false;
  for (const st of span) {
    if (st.keyedBy === undefined) continue;
    if (st.name === 'window') windowKeyed = true;
    else if (st.name === 'aggregate' && windowKeyed) continue;
    if (st.keyedBy.length !== 1 || st.keyedBy[0].trim() !== 'key') return false;
  }
  return true;
}

/**
 * A source whose state is partitioned like its input (a Kafka group's changelog): the stages from the first
 * stateful one to the last run once per input partition (pipeline/tasks.ts), each task with instances of its own.
 * Inside a task records come from one partition, so its stages keep one stream time. A span with a side input (a
 * join's table or second stream) stays whole: its side is read once per process, and the source keeps such a job
 * to one process per group.
 */
function taskStages(source: Source, stages: Stage[], segments: Segment[], carriedTo: Carried[], fused: boolean, from: number, run: RunContext, repartitions: boolean): Repartition | undefined {
  const first = stages.findIndex(isStateful);
  if (first < 0) return undefined;
  let last = first;
  stages.forEach((st, i) => {
    if (isStateful(st)) last = i;
  });
  const span = stages.slice(first, last + 1);
  if (span.some((st) => st.open || st.settle)) return undefined;
  if (!source.keyedAsIs && !byRecordKey(span)) {
    const key = repartitions ? groupKey(span) : undefined;
    return key && { at: first, ...key };
  }

  // a repartition topic's task hears from every upstream task: stream time per upstream, as per input partition
  const partitions = source.upstreamTasks === true;
  const make = () =>
    segments.slice(first, last + 1).map((seg, k) => {
      const at = first + k;
      return seg.spec.stage!(seg.args, seg.opts, contextFor(seg, fused, from + at, { ...carriedTo[at], partitions }, run));
    });
  stages.splice(first, span.length, new Tasks(span, make));
  return undefined;
}

/**
 * The one key the span's per-key state groups by, and the first stage grouping by it; undefined when two stages
 * group by different keys (one repartition cannot place records for both: such a run keeps its state whole).
 */
function groupKey(span: readonly Stage[]): { stage: string; by: readonly string[] } | undefined {
  let found: { stage: string; by: readonly string[] } | undefined;
  let windowKeyed = false;
  // the key is read as records enter the span: a stage before the one grouping that replaces the value (a map)
  // could change what the key expression gives, and the records would be placed by the wrong key
  let replaced = false;
  for (const st of span) {
    if (st.keyedBy === undefined) {
      replaced ||= !st.keepsValue;
      continue;
    }
    if (replaced) return undefined;
    if (!st.keepsValue) replaced = true;
    if (st.name === 'window') windowKeyed = true;
    else if (st.name === 'aggregate' && windowKeyed) continue;
    const by = st.keyedBy.map((e) => e.trim());
    if (!found) found = { stage: st.name, by };
    else if (found.by.join('\u0000') !== by.join('\u0000')) return undefined;
  }
  return found;
}

/**
 * The stages of a run that has no source or sink of its own to build (worker threads, `bench --pipeline`), as one
 * Chain; every segment must be a stage. `fused` defaults to whether there are several.
 */
export async function chainOf(segments: string[][], commands: Commands, where: string, fused = segments.length > 1): Promise<{ chain: Chain; first: Segment; last: Segment }> {
  const parsed: Segment[] = [];
  for (const words of segments) {
    const seg = await parseSegment(words, commands);
    if (!seg) throw new UsageError(`--help inside ${where}`, 'run `kstream <command> --help` on its own');
    if (!seg.spec.stage) throw new UsageError(`\`${seg.spec.name}\` cannot run inside ${where}`, 'use stages such as filter, map, window, aggregate');
    parsed.push(seg);
  }
  const stages = parsed.map((seg, i) => seg.spec.stage!(seg.args, seg.opts, contextFor(seg, fused, i)));
  return { chain: new Chain(stages), first: parsed[0], last: parsed[parsed.length - 1] };
}
