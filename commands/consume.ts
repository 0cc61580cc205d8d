import type { BuildContext, CommandSpec, Opts } from '../src/pipeline/command.js';
import type { Source } from '../src/pipeline/stage.js';
import { UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, connectionConfig, settingValue } from '../src/kafka/config.js';
import { parseOffsets, planUsesStored } from '../src/kafka/offsets.js';
import { KafkaStateBackend } from '../src/kafka/connect/state.js';
import { KafkaSource, topicPattern, type ConsumeFormat } from '../src/kafka/connect/source.js';
import { kafkaRun } from '../src/kafka/connect/run.js';
import { parseCount, parseDuration, parseSize } from '../src/time/duration.js';
import type { Isolation } from '../src/kafka/types.js';

const FORMATS: ConsumeFormat[] = ['value', 'envelope', 'raw'];

export function parsePartitions(v: unknown, flag = '--partition'): number[] | undefined {
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(','));
  return items.map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t)) throw new UsageError(`invalid ${flag} \`${s}\``, 'use partition numbers: 0 or 0,2,5');
    return Number(t);
  });
}

export function parseIsolation(v: unknown): Isolation {
  if (v === undefined) return 'read_uncommitted';
  const s = String(v).toLowerCase().replace('-', '_');
  if (s === 'read_committed' || s === 'committed') return 'read_committed';
  if (s === 'read_uncommitted' || s === 'uncommitted') return 'read_uncommitted';
  throw new UsageError(`invalid --isolation \`${v}\``, 'use read_committed or read_uncommitted');
}

export function kafkaLog(opts: Opts, ctx: BuildContext): ((line: string) => void) | undefined {
  return opts.verbose ? ctx.log : undefined;
}

function parseFetchMax(v: unknown): number {
  const n = parseSize(v === undefined ? '1m' : (v as string | number), '--fetch-max');
  if (n < 1024 || n > 256 * 1024 * 1024) throw new UsageError(`invalid --fetch-max \`${v}\``, 'use 1k to 256m');
  return n;
}

const consume: CommandSpec = {
  name: 'consume',
  args: '[topic...]',
  summary: 'Read Kafka records as NDJSON (follows the topic; --exit stops at its current end)',
  examples: [
    'kstream consume clicks --offset start --exit | head',
    'kstream consume clicks --group stats + filter \'r.ok\' + produce ok-clicks',
    'kstream consume clicks --offset @-15m --format envelope',
    'kstream consume clicks --offset 0=100,1=end --exit',
    "kstream consume --regex 'clicks-.*' --group all-clicks",
  ],
  options: [
    { flags: '-o, --offset <spec>', description: 'Where to start: start | end | stored | <n> | +<n> | -<n> | @<epoch ms> | @<RFC 3339> | @-<duration> | <p>=<offset>,… (default start; a group resumes at its committed offsets, and says so when they overrule --offset)', setting: { keys: ['auto.offset.reset'], value: settingValue.offsetReset } },
    { flags: '-r, --regex <pattern>', description: 'Also every topic whose whole name matches this JavaScript regular expression (found at start; internal __ topics never)' },
    { flags: '-p, --partition <list>', kind: 'list', description: 'Only these partitions (comma list)' },
    { flags: '-g, --group <id>', description: 'Consume as a member of this group and commit offsets (after the output is written)', setting: { keys: ['group.id'] } },
    { flags: '--instance-id <id>', description: 'Static group membership: a restarted instance with the same id gets its partitions back at once (one id per running instance)', setting: { keys: ['group.instance.id'] } },
    { flags: '-e, --exit', description: 'Exit at the end offsets seen at start instead of following the topic' },
    { flags: '-n, --count <n>', kind: 'count', description: 'Exit after this many records' },
    { flags: '-f, --format <format>', kind: 'enum', choices: ['value', 'envelope', 'raw'], description: 'value (the record value) | envelope (topic, partition, offset, timestamp, key, headers, value) | raw (value text as is)', default: 'value' },
    { flags: '--exactly-once', description: 'With --group and a fused `+ produce`: output and offsets commit together in Kafka transactions (one transactional id per input partition); read the output with --isolation read_committed' },
    { flags: '--transactional-id <prefix>', description: 'Prefix of the transactional ids under --exactly-once: <prefix>-<topic>-<partition> (default kstream-<group>)' },
    { flags: '--isolation <level>', description: 'read_uncommitted (default) | read_committed (skip aborted transactions)', setting: { keys: ['isolation.level'] } },
    { flags: '--fetch-max <size>', kind: 'size', description: 'Most bytes per fetch, of records once decompressed (one batch through the pipeline, one commit step); smaller batches commit more often', default: '1m' },
    { flags: '--max-wait <duration>', kind: 'duration', description: 'Longest the broker waits for new data before answering a fetch', default: '500ms', setting: { keys: ['fetch.wait.max.ms'], value: settingValue.ms } },
    { flags: '--state-topic <topic>', description: 'With --group: compacted changelog for window/aggregate/dedupe state (default <group>-kstream-state)' },
    { flags: '--no-repartition', description: 'With --group and state: the input is already partitioned by the key the state is grouped by, so each input partition keeps its own state (a task) though that key is not the record key' },
    { flags: '--commit-interval <duration>', kind: 'duration', description: 'With state: checkpoint it and commit offsets at most this often (each changed entry is written once per checkpoint; a crash replays up to this much input)', default: '1s' },
    ...CONNECTION_OPTIONS,
  ],
  source(args, opts, ctx) {
    // (an empty --regex is refused by the option parser: it needs a value)
    const regex = opts.regex === undefined ? undefined : { text: String(opts.regex), pattern: topicPattern(String(opts.regex)) };
    if (args.length === 0 && regex === undefined) throw new UsageError('missing topic for `consume`', "kstream consume <topic> [--offset start] [--exit], or --regex 'clicks-.*'");
    const format = String(opts.format ?? 'value') as ConsumeFormat;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown --format \`${opts.format}\``, 'use value, envelope or raw');
    const offsets = parseOffsets(opts.offset === undefined ? 'start' : opts.offset);
    const group = opts.group === undefined ? undefined : String(opts.group);
    if (group === '' || opts.group === true) throw new UsageError('empty --group', 'name the group: --group <id>');
    const instanceId = opts.instanceId === undefined ? undefined : String(opts.instanceId);
    if (instanceId !== undefined && (!group || instanceId === '' || opts.instanceId === true)) {
      throw new UsageError(group ? 'empty --instance-id' : '`--instance-id` needs a group', group ? 'name the instance: --instance-id <id>' : 'add --group <id>');
    }
    if (planUsesStored(offsets) && !group) throw new UsageError('`--offset stored` needs a group', 'add --group <id>, or use start, end or an offset');
    let exactlyOnce: { prefix: string } | undefined;
    let isolation = parseIsolation(opts.isolation);
    if (opts.exactlyOnce) {
      if (!group) throw new UsageError('--exactly-once needs --group', 'offsets are committed in the transaction: add --group <id>');
      if (!ctx.fused) throw new UsageError('--exactly-once needs `produce` in the same process', 'fuse it: consume … --exactly-once + … + produce <topic>; stages joined by pipes are at-least-once');
      if (opts.isolation !== undefined && isolation !== 'read_committed') throw new UsageError('--exactly-once reads with --isolation read_committed', 'drop --isolation');
      isolation = 'read_committed';
      const prefix = opts.transactionalId === undefined ? `kstream-${group}` : String(opts.transactionalId);
      if (prefix === '' || opts.transactionalId === true) throw new UsageError('empty --transactional-id', 'name the prefix: --transactional-id <prefix>');
      exactlyOnce = { prefix };
    } else if (opts.transactionalId !== undefined) {
      throw new UsageError('--transactional-id only applies with --exactly-once', 'add --exactly-once');
    }
    let count: number | undefined;
    if (opts.count !== undefined) count = parseCount(opts.count, '--count');
    if (opts.stateTopic !== undefined && !group) throw new UsageError('`--state-topic` needs a group', 'add --group <id>: state is checkpointed with the group\'s offsets');
    const cfg = connectionConfig(opts, process.env, kafkaLog(opts, ctx));
    const source = new KafkaSource(cfg, {
      topics: args,
      regex,
      partitions: parsePartitions(opts.partition),
      group,
      instanceId,
      offsets,
      exit: !!opts.exit,
      count,
      format,
      isolation,
      exactlyOnce,
      maxWaitMs: parseDuration(opts.maxWait ?? '500ms', '--max-wait'),
      fetchMaxBytes: parseFetchMax(opts.fetchMax),
      offsetGiven: opts.offset === undefined ? undefined : String(opts.offset),
      notice: ctx.log,
      quiet: ctx.quiet,
    }, kafkaRun(ctx.run));
    // Stateful stages after a group consumer checkpoint into the group's changelog; unused otherwise.
    if (group) (source as Source).state = new KafkaStateBackend(cfg, String(opts.stateTopic ?? `${group}-kstream-state`), kafkaRun(ctx.run), ctx.quiet ? undefined : ctx.log);
    if (opts.repartition === false && !group) throw new UsageError('`--no-repartition` needs a group', 'add --group <id>: it is about how the group\'s state is split');
    if (opts.repartition === false) source.keyedAsIs = true;
    (source as Source).checkpointMs = parseDuration(opts.commitInterval ?? '1s', '--commit-interval');
    return source;
  },
};

export default consume;
