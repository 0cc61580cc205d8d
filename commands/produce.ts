import type { CommandSpec } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { compileExpr } from '../src/operators/expr.js';
import { CONNECTION_OPTIONS, connectionConfig, settingValue } from '../src/kafka/config.js';
import { kafkaRun } from '../src/kafka/connect/run.js';
import { KafkaSink, type ProduceMode } from '../src/kafka/connect/sink.js';
import { LinesSource } from '../src/io/lines.js';
import type { CompressionName } from '../src/kafka/protocol/records.js';
import type { OutHeader } from '../src/kafka/types.js';
import { parseCount, parseDuration, parseSize } from '../src/time/duration.js';
import { kafkaLog } from './consume.js';

/** Every codec Kafka defines (src/kafka/protocol/compression.ts); the library of each loads on first use. */
export const WRITABLE_CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function parseAcks(v: unknown): -1 | 0 | 1 {
  const s = String(v ?? 'all').toLowerCase();
  if (s === 'all' || s === '-1') return -1;
  if (s === '1' || s === 'leader') return 1;
  if (s === '0' || s === 'none') return 0;
  throw new UsageError(`invalid --acks \`${v}\``, 'use all, 1 or 0');
}

function parseCompression(v: unknown): CompressionName {
  const s = String(v ?? 'none').toLowerCase();
  if (!WRITABLE_CODECS.includes(s as CompressionName)) throw new UsageError(`unknown --compression \`${v}\``, `use ${WRITABLE_CODECS.join(', ')}`);
  return s as CompressionName;
}

function parseHeaders(v: unknown): OutHeader[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => {
    const s = String(x);
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid --header \`${s}\``, 'use key=value, e.g. --header source=import');
    return { key: s.slice(0, i), value: s.slice(i + 1) };
  });
}

function parseMode(opts: Record<string, unknown>): ProduceMode {
  if (opts.envelope && opts.raw) throw new UsageError('--envelope and --raw exclude each other', 'pick how input lines are read');
  return opts.envelope ? 'envelope' : opts.raw ? 'raw' : 'json';
}

const produce: CommandSpec = {
  name: 'produce',
  args: '<topic>',
  summary: 'Write records to a Kafka topic (NDJSON values, --raw lines or --envelope records from consume)',
  examples: [
    'kstream gen --preset clicks --count 100000 | kstream produce clicks --key r.user',
    'kstream consume clicks --format envelope --exit | kstream produce clicks-copy --envelope',
    'cat lines.txt | kstream produce logs --raw --create --partitions 3',
    "kstream gen --count 10 | kstream produce clicks --key-literal sensor-7",
    'kstream consume in --group g + filter \'r.ok\' + produce out',
  ],
  options: [
    { flags: '-k, --key <expr>', kind: 'expr', description: 'Record key: an expression over r (default: the record\'s own key, if any)' },
    { flags: '--key-literal <text>', description: 'Record key: this text, the same for every record (instead of --key)' },
    { flags: '-p, --partition <n>', description: 'Write every record to this partition (default: by key hash, keyless records spread)' },
    { flags: '-H, --header <k=v>', kind: 'list', description: 'Add a header to every record (repeatable)' },
    { flags: '--envelope', description: 'Input records are consume envelopes: key, headers, partition, timestamp and value per record' },
    { flags: '--raw', description: 'Send input lines (and string values) as they are, not as JSON' },
    { flags: '--acks <acks>', kind: 'enum', choices: ['all', '-1', '1', '0'], description: 'all | 1 | 0', default: 'all', setting: { keys: ['acks', 'request.required.acks'] } },
    { flags: '-z, --compression <codec>', kind: 'enum', choices: WRITABLE_CODECS, description: `Record batch compression: ${WRITABLE_CODECS.join(' | ')} (as the Java client frames them)`, default: 'none', setting: { keys: ['compression.type', 'compression.codec'] } },
    { flags: '--batch-size <n>', kind: 'count', description: 'Most records in one Kafka record batch', default: 50000, setting: { keys: ['batch.num.messages'] } },
    { flags: '--batch-bytes <size>', kind: 'size', description: 'Largest record batch before compression (the broker limit is 1m by default)', default: '1000000', setting: { keys: ['batch.size'], value: settingValue.bytes } },
    { flags: '--linger <duration>', kind: 'duration', description: 'Longest a record waits for later ones to share its request (after a quiet spell it goes at once; 0ms: a request per input chunk)', default: '5ms', setting: { keys: ['linger.ms', 'queue.buffering.max.ms'], value: settingValue.ms } },
    { flags: '--create', description: 'Create the topic if it does not exist' },
    { flags: '--partitions <n>', kind: 'int', description: 'Partitions of a topic made by --create (default: the broker\'s default)' },
    ...CONNECTION_OPTIONS,
  ],
  stdin(opts, errors) {
    return opts.raw ? new LinesSource(errors) : undefined;
  },
  sink(args, opts, ctx) {
    if (args.length !== 1) throw new UsageError(args.length ? `\`produce\` writes to one topic, got ${args.length}` : 'missing topic for `produce`', 'kstream produce <topic>');
    const mode = parseMode(opts);
    let partition: number | undefined;
    if (opts.partition !== undefined) {
      if (!/^\d+$/.test(String(opts.partition))) throw new UsageError(`invalid --partition \`${opts.partition}\``, 'use a partition number');
      partition = Number(opts.partition);
    }
    let create: { partitions?: number } | undefined;
    if (opts.create) {
      create = {};
      if (opts.partitions !== undefined) {
        const n = parseCount(opts.partitions, '--partitions');
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid --partitions \`${opts.partitions}\``, 'use a whole number of at least 1');
        create.partitions = n;
      }
    } else if (opts.partitions !== undefined) throw new UsageError('--partitions only applies with --create', 'add --create, or use `kstream topics create`');
    const batchRecords = parseCount(opts.batchSize ?? 50000, '--batch-size');
    if (batchRecords < 1) throw new UsageError(`invalid --batch-size \`${opts.batchSize}\``, 'use at least 1');
    const batchBytes = parseSize(opts.batchBytes ?? '1000000', '--batch-bytes');
    if (batchBytes < 1024) throw new UsageError(`invalid --batch-bytes \`${opts.batchBytes}\``, 'use at least 1k');
    if (opts.key !== undefined && opts.keyLiteral !== undefined) throw new UsageError('--key and --key-literal both name the key', 'keep one: --key takes an expression over r, --key-literal a text');
    // a literal key is the expression that gives that text: one path for both, and it reads nothing of the record
    const keySource = opts.keyLiteral !== undefined ? JSON.stringify(String(opts.keyLiteral)) : opts.key !== undefined ? String(opts.key) : undefined;
    return new KafkaSink(connectionConfig(opts, process.env, kafkaLog(opts, ctx)), {
      topic: args[0],
      mode,
      key: keySource !== undefined ? compileExpr(keySource, 'key expression', ctx.carries, ctx.fused) : undefined,
      partition,
      headers: parseHeaders(opts.header),
      create,
      acks: parseAcks(opts.acks),
      compression: parseCompression(opts.compression),
      batchBytes,
      batchRecords,
      // librdkafka's linger.ms is 5 ms too: about as many requests per record as kcat sends, so as much broker CPU
      lingerMs: parseDuration(opts.linger ?? '5ms', '--linger'),
      quiet: ctx.quiet,
      log: ctx.log,
      errors: ctx.errors('produce'),
    }, kafkaRun(ctx.run));
  },
};

export default produce;
