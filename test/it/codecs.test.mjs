// Every Kafka compression codec both ways against the real broker, with independent clients: kcat (librdkafka)
// writes, kstream reads; kstream writes, kcat reads (and the broker, which decompresses every batch it is sent
// with the Java client's codecs, accepts it); the Java client's own console producer writes, kstream reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../helpers/spawn.mjs';
import { itContext } from '../helpers/broker.mjs';
import { CONSOLE_PRODUCER_CLASS, ensureClasspath } from '../../scripts/kafka.mjs';

const { brokers, env, adm, topics } = await itContext();
const T = { timeout: 120_000 };
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'];

function run(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    const out = [];
    let stderr = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

async function ok(cmd, args, input) {
  const r = await run(cmd, args, input);
  assert.equal(r.code, 0, `${path.basename(cmd)} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const ks = (args, input) => ok(process.execPath, [CLI, ...args], input);
const kcat = (args, input) => ok('kcat', ['-b', brokers, ...args], input);
const lines = (s) => s.split('\n').filter((l) => l !== '');

async function createTopic(name) {
  const t = `it-codecs-${name}-${randomUUID().slice(0, 8)}`;
  topics.push(t);
  await adm.createTopics({ topics: [{ topic: t, numPartitions: 1 }], waitForLeaders: true });
  return t;
}

/**
 * Records of every kind: JSON and text values, keys, headers, multi-KB values (so one compressed batch holds several
 * records and an lz4 frame several blocks) and one over 64 KiB. Each as kcat -P -K '\t' takes it, with its headers.
 */
const RECORDS = [
  ...Array.from({ length: 300 }, (_, i) => ({ key: `user-${i % 17}`, value: JSON.stringify({ i, page: `/p/${i % 9}`, ok: i % 3 > 0 }) })),
  ...Array.from({ length: 40 }, (_, i) => ({ key: `big-${i}`, value: JSON.stringify({ i, pad: `${'lorem ipsum dolor '.repeat(100 + i * 7)}#${i}` }) })),
  { key: 'text', value: 'plain text, not JSON — with ünïcödé' },
  { key: 'huge', value: JSON.stringify({ blob: Array.from({ length: 15000 }, (_, i) => (i * 7919) % 10007).join(',') }) },
  { key: 'last', value: '{"last":true}' },
];
const HEADERS = [['src', 'it'], ['trace', 'abc-123']];

/** The records as `kstream consume --format envelope` shows them (JSON values parsed, text as strings). */
function expected(withHeaders) {
  return RECORDS.map((r, offset) => {
    let value;
    try {
      value = JSON.parse(r.value);
    } catch {
      value = r.value;
    }
    return { offset, key: r.key, headers: withHeaders ? HEADERS.map(([key, v]) => ({ key, value: v })) : [], value };
  });
}

const envelopes = (out) => lines(out).map((l) => {
  const e = JSON.parse(l);
  return { offset: e.offset, key: e.key, headers: e.headers, value: e.value };
});

for (const codec of CODECS) {
  test(`${codec}: kcat -P -z ${codec} → kstream consume reads the same records`, T, async () => {
    const t = await createTopic(`kcat-${codec}`);
    const input = RECORDS.map((r) => `${r.key}\t${r.value}`).join('\n') + '\n';
    // one linger window for all: many records per batch, so batches really are compressed (librdkafka sends tiny
    // batches uncompressed)
    await kcat(['-P', '-t', t, '-z', codec, '-K', '\t', ...HEADERS.flatMap(([k, v]) => ['-H', `${k}=${v}`]), '-X', 'linger.ms=200'], input);
    const got = envelopes(await ks(['consume', t, '--exit', '--format', 'envelope']));
    assert.deepEqual(got, expected(true));
    assert.equal(await ks(['consume', t, '--exit', '--format', 'raw']), RECORDS.map((r) => r.value).join('\n') + '\n');
    await assertCompressed(t, codec);
  });

  test(`${codec}: kstream produce -z ${codec} → kcat -C reads the same records`, T, async () => {
    const t = await createTopic(`ks-${codec}`);
    const input = RECORDS.map((r, i) => JSON.stringify({
      key: r.key, value: r.value, headers: HEADERS.map(([key, value]) => ({ key, value })), timestamp: 1_700_000_000_000 + i,
    })).join('\n') + '\n';
    await ks(['produce', t, '--envelope', '-z', codec, '--quiet'], input);
    const got = lines(await kcat(['-C', '-t', t, '-e', '-q', '-J'])).map((l) => JSON.parse(l));
    assert.deepEqual(got.map((g) => [g.offset, g.key, g.headers, g.payload, g.ts]),
      RECORDS.map((r, i) => [i, r.key, HEADERS.flat(), r.value, 1_700_000_000_000 + i]));
    await assertCompressed(t, codec);
  });
}

test('the Java client\'s console producer writes snappy (xerial), lz4 and zstd; kstream reads them', { timeout: 170_000 }, async () => {
  const lib = ensureClasspath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'it-codecs-'));
  const log4j = path.join(dir, 'log4j.properties');
  fs.writeFileSync(log4j, 'log4j.rootLogger=ERROR, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=%m%n\n');
  // Kafka 4 logs through log4j2 and ignores the log4j 1 flag
  const log4j2 = path.join(dir, 'log4j2.properties');
  fs.writeFileSync(log4j2, 'appender.e.type=Console\nappender.e.name=E\nappender.e.target=SYSTEM_ERR\nappender.e.layout.type=PatternLayout\nappender.e.layout.pattern=%m%n\nrootLogger.level=ERROR\nrootLogger.appenderRef.e.ref=E\n');
  const input = RECORDS.map((r) => `${r.key}\t${r.value}`).join('\n') + '\n';
  try {
    await Promise.all(['snappy', 'lz4', 'zstd'].map(async (codec) => {
      const t = await createTopic(`java-${codec}`);
      await ok('java', [
        '-Xms64m', '-Xmx256m', `-Dlog4j.configuration=file:${log4j}`, `-Dlog4j2.configurationFile=${log4j2}`, '-cp', `${lib}/*`, CONSOLE_PRODUCER_CLASS,
        '--bootstrap-server', brokers, '--topic', t, '--compression-codec', codec,
        '--property', 'parse.key=true', '--property', 'key.separator=\t',
        '--producer-property', 'linger.ms=200', '--producer-property', 'batch.size=1000000',
      ], input);
      assert.deepEqual(envelopes(await ks(['consume', t, '--exit', '--format', 'envelope'])), expected(false), codec);
      await assertCompressed(t, codec);
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The topic holds batches compressed with `codec` (a producer may send small batches uncompressed, which would let a
 * test pass without reading any compressed batch): read from the broker's log segment on disk, when the broker is
 * one of this repository's (scripts/test.mjs starts one).
 */
async function assertCompressed(topic, codec) {
  const id = ['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(codec);
  const dir = logDirOf(topic);
  if (!dir) return; // a broker given in KSTREAM_BROKERS keeps its log elsewhere
  const seg = fs.readdirSync(dir).find((f) => f.endsWith('.log'));
  const b = fs.readFileSync(path.join(dir, seg));
  let p = 0;
  let compressed = 0;
  while (p + 61 <= b.length) {
    if ((b.readInt16BE(p + 21) & 7) === id) compressed++;
    p += 12 + b.readInt32BE(p + 8);
  }
  assert.ok(compressed > 0, `no ${codec} batch in ${topic}`);
}

/** The partition-0 log directory of `topic` when the broker is one of this repository's (.kafka/<dir>/data). */
function logDirOf(topic) {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../.kafka');
  if (!fs.existsSync(root)) return undefined;
  const port = brokers.split(',')[0].split(':')[1];
  for (const d of fs.readdirSync(root)) {
    const props = path.join(root, d, 'server.properties');
    if (!fs.existsSync(props) || !fs.readFileSync(props, 'utf8').includes(`:${port}`)) continue;
    const logs = /^log\.dirs=(.*)$/m.exec(fs.readFileSync(props, 'utf8'))?.[1];
    const dir = logs && path.join(logs, `${topic}-0`);
    if (dir && fs.existsSync(dir)) return dir;
  }
  return undefined;
}
