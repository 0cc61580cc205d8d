// Interoperability with kcat (librdkafka), an independent Kafka client: what kstream writes kcat reads, and the
// other way round — keys, headers, values, compression and key partitioning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { run, runSync, textLines as lines } from '../helpers/spawn.mjs';

const T = { timeout: 60_000 };
const ctx = await itContext();
const { brokers, env } = ctx;
const createTopic = (partitions = 1) => ctx.createTopic('kcat', partitions);

/** kstream `args`, which must succeed: its stdout. */
async function ks(args, opts) {
  const r = await run(args, { ...opts, env });
  assert.equal(r.code, 0, `kstream ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** kcat `args` against the broker, which must succeed: its stdout as bytes. */
async function kcat(args, opts) {
  const r = await run(['-b', brokers, ...args], { ...opts, bin: 'kcat', encoding: 'buffer' });
  assert.equal(r.code, 0, `kcat ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('kcat is installed', () => {
  const r = runSync(['-V'], { bin: 'kcat' });
  assert.equal(r.code, 0, 'kcat not found — install it (Debian/Ubuntu: apt-get install kcat)');
});

test('kstream produces, kcat -C reads the same records: keys, headers, values, timestamps', T, async () => {
  const t = await createTopic(1);
  const recs = [
    { key: 'k1', headers: [{ key: 'h1', value: 'v1' }, { key: 'h2', value: 'v2' }], value: { a: 1 }, timestamp: 1_700_000_000_000 },
    { key: 'k2', headers: [], value: 'plain text', timestamp: 1_700_000_000_001 },
    { key: null, headers: [], value: null, timestamp: 1_700_000_000_002 },
    { key: 'bin', headers: [], value: '3q2+7w==', encoding: 'base64', timestamp: 1_700_000_000_003 },
  ];
  await ks(['produce', t, '--envelope', '--quiet'], { input: recs.map((r) => JSON.stringify(r)).join('\n') });
  const got = lines((await kcat(['-C', '-t', t, '-e', '-q', '-J'])).toString('utf8')).map((l) => JSON.parse(l));
  assert.deepEqual(got.map((g) => [g.key, g.headers ?? [], g.payload, g.ts]), [
    ['k1', ['h1', 'v1', 'h2', 'v2'], '{"a":1}', 1_700_000_000_000],
    ['k2', [], 'plain text', 1_700_000_000_001],
    [null, [], null, 1_700_000_000_002],
    ['bin', [], got[3].payload, 1_700_000_000_003],
  ]);
  // the binary value, byte for byte, as kcat prints payloads raw
  const raw = await kcat(['-C', '-t', t, '-e', '-q', '-o', '3', '-c', '1', '-f', '%s']);
  assert.deepEqual(raw, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  // 20 000 NDJSON lines: kcat sees them in order, byte for byte
  const many = Array.from({ length: 20000 }, (_, i) => JSON.stringify({ i, s: 'x'.repeat(i % 50) })).join('\n') + '\n';
  const t2 = await createTopic(1);
  await ks(['produce', t2, '--quiet'], { input: many });
  assert.equal((await kcat(['-C', '-t', t2, '-e', '-q'])).toString('utf8'), many);
});

test('kcat -P produces, kstream reads them (value and envelope formats)', T, async () => {
  const t = await createTopic(1);
  await kcat(['-P', '-t', t, '-K', ':', '-H', 'src=kcat', '-H', 'n=2'], { input: 'k1:{"a":1}\nk2:hello world\nk3:"q"\n' });
  assert.equal(await ks(['consume', t, '--exit']), '{"a":1}\n"hello world"\n"q"\n');
  const env = lines(await ks(['consume', t, '--exit', '--format', 'envelope'])).map((l) => JSON.parse(l));
  assert.deepEqual(env.map((e) => [e.offset, e.key, e.headers, e.value]), [
    [0, 'k1', [{ key: 'src', value: 'kcat' }, { key: 'n', value: '2' }], { a: 1 }],
    [1, 'k2', [{ key: 'src', value: 'kcat' }, { key: 'n', value: '2' }], 'hello world'],
    [2, 'k3', [{ key: 'src', value: 'kcat' }, { key: 'n', value: '2' }], '"q"'],
  ]);
  for (const e of env) assert.ok(Math.abs(e.timestamp - Date.now()) < 120_000);
});

test('kcat -C -J output is produce --envelope input: a lossless copy', T, async () => {
  const src = await createTopic(2);
  const dst = await createTopic(2);
  await kcat(['-P', '-t', src, '-K', ':', '-p', '0', '-H', 'x=y'], { input: 'a:{"v" : 1}\nb:text\n' });
  await kcat(['-P', '-t', src, '-K', ':', '-p', '1'], { input: 'c:3\n' });
  const dump = (await kcat(['-C', '-t', src, '-e', '-q', '-J'])).toString('utf8');
  await ks(['produce', dst, '--envelope', '--quiet'], { input: dump });
  const norm = (buf) => lines(buf.toString('utf8')).map((l) => {
    const j = JSON.parse(l);
    return [j.partition, j.offset, j.key, j.headers, j.payload, j.ts];
  }).sort();
  assert.deepEqual(norm(await kcat(['-C', '-t', dst, '-e', '-q', '-J'])), norm(Buffer.from(dump)));
});

test('gzip both ways (every codec: it/codecs.test.mjs)', T, async () => {
  const a = await createTopic(1);
  const data = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'abc'.repeat(10) })).join('\n') + '\n';
  await kcat(['-P', '-t', a, '-z', 'gzip'], { input: data });
  assert.equal(await ks(['consume', a, '--exit']), data);
  const b = await createTopic(1);
  await ks(['produce', b, '--compression', 'gzip', '--quiet'], { input: data });
  assert.equal((await kcat(['-C', '-t', b, '-e', '-q'])).toString('utf8'), data);
});

test('keys land on the partitions Java clients (and kcat with murmur2) choose', T, async () => {
  const t1 = await createTopic(6);
  const t2 = await createTopic(6);
  const keys = Array.from({ length: 200 }, (_, i) => `user-${i * 7}`);
  await ks(['produce', t1, '--key', 'r.k', '--quiet'], { input: keys.map((k) => JSON.stringify({ k })).join('\n') });
  await kcat(['-P', '-t', t2, '-K', ':', '-X', 'partitioner=murmur2_random'], { input: keys.map((k) => `${k}:{}`).join('\n') + '\n' });
  const where = async (t) => new Map(lines((await kcat(['-C', '-t', t, '-e', '-q', '-f', '%k %p\n'])).toString('utf8')).map((l) => l.split(' ')));
  const a = await where(t1);
  const b = await where(t2);
  assert.equal(a.size, 200);
  for (const k of keys) assert.equal(a.get(k), b.get(k), `key ${k}`);
  assert.ok(new Set(a.values()).size === 6);
});
