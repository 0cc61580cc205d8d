// Records are faithful (issue 10): a copy job through kstream writes every record as it was stored — tombstones,
// empty values, text, binary keys and values, headers and timestamps — fused and through an envelope pipe, and
// the copy equals the original under an independent reader (kcat -J). Records that look like other tools'
// control objects are data all the way through Kafka.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { itContext } from '../helpers/broker.mjs';
import { KS, run, runSync } from '../helpers/spawn.mjs';

const { brokers, env, adm, topics } = await itContext();
const T = { timeout: 90_000 };

async function topic(what, partitions = 1) {
  const t = `it-faithful-${what}-${randomUUID().slice(0, 8)}`;
  topics.push(t);
  await adm.createTopics({ topics: [{ topic: t, numPartitions: partitions }], waitForLeaders: true });
  return t;
}

/** Runs a command line that must succeed. */
async function ok(cmd, input) {
  const r = await run(cmd, input, { env });
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r;
}

/** kcat's view of a topic, without what differs between two topics (name) — offsets, partitions and all else kept. */
function kcatJ(t) {
  const r = runSync(['-b', brokers, '-C', '-t', t, '-e', '-J', '-q'], { bin: 'kcat', encoding: 'buffer' });
  assert.equal(r.code, 0, `kcat must be installed for this test (apt-get install kcat): ${r.stderr}`);
  return r.stdout.toString('latin1').split('\n').filter(Boolean).map((l) => {
    const o = JSON.parse(l);
    delete o.topic;
    delete o.broker;
    return o;
  }).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

const BIN = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x22]);
// every kind of record a Java client or kcat may have written
const RECORDS = [
  { key: 'k1', value: '{"a":1}', timestamp: '1000' },
  { key: 'k2', value: '{ "spaced" :  [1, 2.50] }', timestamp: '2000' },
  { key: 'k3', value: null, timestamp: '3000' },
  { key: 'k4', value: '', timestamp: '4000' },
  { key: null, value: 'abc', timestamp: '5000' },
  { key: BIN, value: BIN, timestamp: '6000' },
  { key: 'k7', value: '"quoted"', timestamp: '7000', headers: { h1: 'v1', bin: BIN, e: '' } },
  { key: '', value: 'null', timestamp: '8000' },
  { key: 'k9', value: '{"a":\n1}', timestamp: '9000' },
  { key: 'k10', value: '{"$set":{"a":1}}', timestamp: '10000' },
  { key: 'k11', value: 'héllo €', timestamp: '11000', headers: { n: 'x', m: 'y' } },
  { key: 'k12', value: '42', timestamp: '12000' },
];

async function original() {
  const t = await topic('src');
  const kafka = new Kafka({ clientId: 'it-faithful', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: t, messages: RECORDS });
  await p.disconnect();
  return t;
}

test('consume + filter + produce copies every kind of record exactly (kcat -J of the copy equals the original)', T, async () => {
  const src = await original();
  const want = kcatJ(src);
  assert.equal(want.length, RECORDS.length);
  for (const mid of [[], ['+', 'filter', 'true'], ['+', 'dedupe', '--by', 'key', '--within', '1h']]) {
    const dst = await topic('copy');
    await ok(`${KS} consume ${src} --exit ${mid.join(' ')} + produce ${dst} --quiet`);
    assert.deepEqual(kcatJ(dst), want, `consume ${mid.join(' ')} + produce`);
  }
  // a stage that replaces values writes new values, but keeps each record's key bytes, headers and timestamp
  const mapped = await topic('mapped');
  await ok(`${KS} consume ${src} --exit + map '({n: 1})' + produce ${mapped} --quiet`);
  const got = kcatJ(mapped);
  assert.deepEqual(got.map((o) => o.payload), RECORDS.map(() => '{"n":1}'));
  assert.deepEqual(got.map((o) => [o.key, o.ts, o.headers]), want.map((o) => [o.key, o.ts, o.headers]));
});

test('the envelope pipe is lossless too, with r the value and key, ts, headers in scope', T, async () => {
  const src = await original();
  const want = kcatJ(src);
  const dst = await topic('envcopy');
  await ok(`${KS} consume ${src} --exit --format envelope | ${KS} filter --envelope 'true' | ${KS} produce ${dst} --envelope --quiet`);
  assert.deepEqual(kcatJ(dst), want);
  // the expression sees what a fused stage sees
  const fields = `'({r, key, ts, h: headers && headers.map((x) => x.key)})'`;
  const piped = await ok(`${KS} consume ${src} --exit --format envelope | ${KS} map ${fields} --envelope | ${KS} map 'r' --envelope`);
  const fused = await ok(`${KS} consume ${src} --exit + map ${fields}`);
  const values = piped.stdout.split('\n').filter(Boolean).map((l) => JSON.stringify(JSON.parse(l).value));
  assert.deepEqual(values, fused.stdout.split('\n').filter(Boolean).map((l) => JSON.stringify(JSON.parse(l))));
  assert.equal(JSON.parse(values[0]).key, 'k1');
  assert.equal(JSON.parse(values[0]).ts, 1000);
  assert.equal(JSON.parse(values[2]).r, null, 'a tombstone is r = null');
  assert.deepEqual(JSON.parse(values[6]).h, ['h1', 'bin', 'e']);
  // filter: kept lines go out byte for byte, dropped ones not at all
  const env = await ok(`${KS} consume ${src} --exit --format envelope`);
  const kept = await ok(`${KS} filter --envelope 'key === "k1" || key === "k7"'`, env.stdout);
  assert.deepEqual(kept.stdout.split('\n').filter(Boolean), env.stdout.split('\n').filter((l) => /"key":"k(1|7)"/.test(l)));
});

test('envelopes fused equal envelopes piped: one unwrapping, and consume --format envelope is a document either way', T, async () => {
  const src = await original();
  const lines = (await ok(`${KS} consume ${src} --exit --format envelope`)).stdout;
  // stdin envelopes through a fused stage into produce --envelope: unwrapped once, as the pipe does
  const piped = await topic('envpiped');
  await ok(`${KS} filter 'true' --envelope | ${KS} produce ${piped} --envelope --quiet`, lines);
  const fused = await topic('envfused');
  await ok(`${KS} filter 'true' --envelope + produce ${fused} --envelope --quiet`, lines);
  assert.deepEqual(kcatJ(fused), kcatJ(piped));
  assert.deepEqual(kcatJ(fused), kcatJ(src));
  // consume --format envelope + produce writes the envelope document, keyless — exactly what the pipe writes
  const a = await topic('docpiped');
  await ok(`${KS} consume ${src} --exit --format envelope | ${KS} produce ${a} --quiet`);
  const b = await topic('docfused');
  await ok(`${KS} consume ${src} --exit --format envelope + produce ${b} --quiet`);
  const strip = (xs) => xs.map(({ ts, ...o }) => o);
  assert.deepEqual(strip(kcatJ(b)), strip(kcatJ(a)));
  assert.ok(kcatJ(b).every((o) => o.key === null && JSON.parse(o.payload).topic === src));
  // --envelope where it cannot mean anything is refused, not ignored
  const mid = await run(`${KS} consume ${src} --exit + filter 'true' --envelope + map 'r'`, '', { env });
  assert.equal(mid.code, 2);
  assert.match(mid.stderr, /`filter --envelope` is inside a fused run/);
  const twice = await run(`${KS} consume ${src} --exit --format envelope + filter 'true' --envelope`, '', { env });
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /`consume --format envelope` records are envelopes already/);
  // fused after consume (value format), the last stage writes envelopes of the records it keeps
  const out = await ok(`${KS} consume ${src} --exit + filter 'true' --envelope`);
  assert.deepEqual(out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)), lines.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
});

test('consume --format raw writes the stored bytes: binary stays binary, a tombstone is an empty line', T, async () => {
  const src = await original();
  const r = runSync(['consume', src, '--exit', '--format', 'raw'], { env, encoding: 'buffer' });
  assert.equal(r.code, 0, r.stderr);
  const want = Buffer.concat(RECORDS.flatMap((x) => [x.value === null ? Buffer.alloc(0) : Buffer.from(x.value), Buffer.from('\n')]));
  assert.deepEqual(r.stdout, want);
});

test('{"$set":…} and {"$date":…} lines are records through produce, filter, map and stats', T, async () => {
  const t = await topic('dollar');
  const input = '{"$set":{"a":1}}\n{"$date":"x"}\n{"x":1}\n';
  const p = await ok(`${KS} produce ${t}`, input);
  assert.match(p.stderr, /produced 3 records/);
  const back = await ok(`${KS} consume ${t} --exit + filter 'true' + map 'r'`);
  assert.equal(back.stdout, input);
  const st = await ok(`${KS} consume ${t} --exit + stats --json`);
  assert.equal(JSON.parse(st.stdout).count, 3);
});

test('a record too large for the topic follows --on-error with its input line; fail writes nothing after it', T, async () => {
  const small = (i, extra = '') => JSON.stringify({ i, s: `x${extra}` });
  const big = JSON.stringify({ i: 3, pad: 'y'.repeat(30_000) });
  // the ASCII input goes through byte spans, the other through records: both check alike
  for (const [what, extra] of [['ASCII', ''], ['not ASCII', 'é']]) {
    const input = [small(1, extra), small(2, extra), big, small(4, extra), small(5, extra)].join('\n') + '\n';
    const mk = async () => {
      const t = `it-faithful-large-${randomUUID().slice(0, 8)}`;
      topics.push(t);
      await adm.createTopics({ topics: [{ topic: t, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }], waitForLeaders: true });
      return t;
    };
    const values = async (t) => (await ok(`${KS} consume ${t} --exit`)).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).i);
    const f = await mk();
    const fail = await run(`${KS} produce ${f}`, input, { env });
    assert.equal(fail.code, 1, what);
    assert.match(fail.stderr, /^kstream: stdin line 3: record too large for `it-faithful-large-\w+`: \d+ bytes as a record batch \(29\.\d KiB\), and the topic takes at most 20000 \(max\.message\.bytes\) — raise the topic's max\.message\.bytes/m, what);
    assert.equal(fail.stderr.trim().split('\n').length, 1, `one line: ${fail.stderr}`);
    assert.deepEqual(await values(f), [1, 2], `${what}: the lines before it, and nothing after`);
    const s = await mk();
    const skip = await run(`${KS} produce ${s} --on-error skip`, input, { env });
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, /skipped=1/);
    assert.deepEqual(await values(s), [1, 2, 4, 5], what);
    // many small records to a topic with a small limit: batches are cut to the topic's limit, nothing is refused
    const many = await mk();
    const smalls = Array.from({ length: 600 }, (_, i) => small(i, `${extra}${'z'.repeat(60)}`)).join('\n') + '\n';
    await ok(`${KS} produce ${many} --quiet`, smalls);
    await ok(`${KS} produce ${many} --key r.i --quiet`, smalls);
    assert.equal((await values(many)).length, 1200, `${what}: every small record arrives`);
    const d = await mk();
    const dlqFile = `/tmp/kstream-it-dlq-${randomUUID().slice(0, 8)}.ndjson`;
    const dlq = await run(`${KS} produce ${d} --on-error dlq=${dlqFile}`, input, { env });
    assert.equal(dlq.code, 0, dlq.stderr);
    const letters = (await import('node:fs')).readFileSync(dlqFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(letters.map((x) => [x.source, x.original]), [['stdin line 3', big]]);
    assert.deepEqual(await values(d), [1, 2, 4, 5], what);
  }
});

// A plain consume keeps each value in the fetched bytes and copies it out when its bytes match the stream's learned
// shape (ASCII JSON on one line); everything else takes the general way. Both must give the same lines as ever.
test('a plain consume writes every value as its line, whether it matched the learned shape in place or not', T, async () => {
  const t = await topic('plain');
  const same = '{"a":1.5,"b":"x","c":[1,{"d":2}]}';
  const values = [
    [same, same], [same, same], [same, same],
    ['{"a":2.5e-3,"b":"y\\"z","c":[]}', '{"a":2.5e-3,"b":"y\\"z","c":[]}'],
    ['{"a":-0,"b":"x","c":[ 1 , 2 ]}', '{"a":-0,"b":"x","c":[ 1 , 2 ]}'],
    ['{"a":1,"b":"é","c":[]}', '{"a":1,"b":"é","c":[]}'],
    ['{"a":1,"b":"x","c":[1,\n2]}', '{"a":1,"b":"x","c":[1,2]}'],
    ['{"a":1,"b":"x","c":[1,\r2]}', '{"a":1,"b":"x","c":[1,2]}'],
    ['{"a":1,"b":"x","c":[1,', '"{\\"a\\":1,\\"b\\":\\"x\\",\\"c\\":[1,"'],
    [Buffer.from('{"a":1,"b":"\xff","c":[]}', 'latin1'), JSON.stringify(Buffer.from('{"a":1,"b":"\xff","c":[]}', 'latin1').toString('base64'))],
    [null, 'null'],
    ['{"a":7,"b":"x","c":{}}', '{"a":7,"b":"x","c":{}}'],
  ];
  const kafka = new Kafka({ clientId: 'it-faithful', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: t, messages: values.map(([value]) => ({ value })) });
  await p.disconnect();
  const r = await ok(`${KS} consume ${t} --exit`);
  assert.equal(r.stdout, values.map(([, line]) => line).join('\n') + '\n');
  assert.match(r.stderr, /binary-as-base64=1/);
  // a carriage return inside a value breaks the line for readers that split on it: re-serialised whether or not a
  // shape was learned before it (here none is: the first batch of a stream is decoded whole)
  const cr = await topic('plain-cr');
  const w = runSync(['-b', brokers, '-P', '-t', cr], { bin: 'kcat', input: '{"a":[1,\r2]}\n'.repeat(3) });
  assert.equal(w.code, 0, w.stderr);
  assert.equal((await ok(`${KS} consume ${cr} --exit`)).stdout, '{"a":[1,2]}\n'.repeat(3));
});

// A batch of large values, then one of many small ones: the output buffer of the second was sized by the lines of
// the first (gigabytes), and the run crashed — or, with a fetch in flight, ended at exit 0 with 13 lines of 300,014.
test('a plain consume of large values followed by many small ones writes every line', T, async () => {
  const t = await topic('sizes');
  const big = (i) => JSON.stringify({ i, pad: 'y'.repeat(900_000) });
  const input = ['{"i":-2}', '{"i":-1}', ...Array.from({ length: 12 }, (_, i) => big(i)), ...Array.from({ length: 300_000 }, (_, i) => `{"i":${i}}`)].join('\n') + '\n';
  const w = runSync(['-b', brokers, '-P', '-t', t, '-X', 'message.max.bytes=2000000'], { bin: 'kcat', input });
  assert.equal(w.code, 0, w.stderr);
  const r = await ok(`${KS} consume ${t} --exit`);
  assert.equal(r.stdout, input);
});

// A record refused while the consumer still has a fetch in flight: the run used to close its connections under that
// fetch, kafkajs never answered it, nothing kept the process alive, and it exited 0 with one line written and no
// error. The backlog after the refused record keeps a fetch in flight when it happens.
test('a record refused while a fetch is in flight stops the run with its error and exit 1', T, async () => {
  const t = await topic('refused');
  const gen = await ok(`${KS} gen --count 50000 --quiet`);
  const input = '{"a":"s"}\n{"$kstream":{"watermark":1}}\n' + gen.stdout;
  const w = runSync(['-b', brokers, '-P', '-t', t], { bin: 'kcat', input });
  assert.equal(w.code, 0, w.stderr);
  for (let i = 0; i < 3; i++) {
    const r = await run(`${KS} consume ${t} --exit`, '', { env });
    assert.equal(r.code, 1, `run ${i + 1}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
    assert.equal(r.stdout, '{"a":"s"}\n');
    assert.match(r.stderr, /^kstream: it-faithful-refused-\w+\/0@1: the record reads as a kstream control line in a pipe/);
  }
});
