// Bad input through Kafka, against the real broker at KSTREAM_BROKERS: a bad record in the middle of a topic
// fails a fused group pipeline with one line that names its partition and offset, after everything before it was
// produced; offsets are committed up to its batch at most (never past it), so a rerun with
// --on-error dlq=kafka:<topic> sets it aside and loses nothing; the dead letter carries the original bytes and
// where they came from. (No broker, a missing topic and wrong SASL credentials:
// test/it/consume-produce.test.mjs; the same matrix without Kafka: test/badinput.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { KS, run } from '../helpers/spawn.mjs';

const T = { timeout: 90_000 };

const { env, adm, topics, groups } = await itContext();

function names(what) {
  const id = `${what}-${randomUUID().slice(0, 8)}`;
  const n = { input: `it-bad-in-${id}`, output: `it-bad-out-${id}`, dead: `it-bad-dlq-${id}`, group: `it-bad-${id}` };
  topics.push(n.input, n.output, n.dead);
  groups.push(n.group);
  return n;
}

const lines = (s) => s.split('\n').filter(Boolean);

function noStack(stderr) {
  assert.doesNotMatch(stderr, /\n\s+at .*:\d+:\d+|^\w*Error:/m, stderr);
}

/** 1000 good records on one partition, with bad ones at offsets 300 (not JSON), 600 (`a` missing), 900 (a number). */
async function badTopic(n) {
  await adm.createTopics({ topics: [{ topic: n.input, numPartitions: 1 }, { topic: n.output, numPartitions: 1 }, { topic: n.dead, numPartitions: 1 }], waitForLeaders: true });
  const recs = Array.from({ length: 1003 }, (_, i) => JSON.stringify({ i, a: { b: i } }));
  recs[300] = 'this is not JSON';
  recs[600] = '{"i":600,"x":1}';
  recs[900] = '900';
  const r = await run(`${KS} produce ${n.input} --raw --batch-size 50 --quiet`, recs.join('\n') + '\n', { env });
  assert.equal(r.code, 0, r.stderr);
}

async function committed(group, topic) {
  const offs = await adm.fetchOffsets({ groupId: group, topics: [topic] });
  return Number(offs[0].partitions[0].offset);
}

test('a bad record mid-topic: fails naming topic/partition@offset after producing everything before it, commits nothing past it; dlq=kafka: sets it aside', T, async () => {
  const n = names('fail');
  await badTopic(n);
  // small fetches: batches of ~60 records, each committed after its output is acknowledged
  const cmd = (extra) => `${KS} consume ${n.input} --group ${n.group} --exit --fetch-max 4k + map '({i: r.i, b: r.a.b})'${extra} + produce ${n.output} --quiet`;
  const f = await run(cmd(''), { env });
  assert.equal(f.code, 1);
  noStack(f.stderr);
  // a value that is not JSON is a string: r.a is undefined, so the first failure is at offset 300
  assert.equal(f.stderr, `kstream: ${n.input}/0@300: map expression \`({i: r.i, b: r.a.b})\` threw TypeError: Cannot read properties of undefined (reading 'b') — fix the input, or pass --on-error skip or --on-error dlq=<file> to set bad records aside\n`);
  const first = lines((await run(`${KS} consume ${n.output} --exit`, { env })).stdout).map((l) => JSON.parse(l).i);
  assert.deepEqual(first, Array.from({ length: 300 }, (_, i) => i), 'every record before the bad one was produced');
  // the batch holding the bad record is not committed (its records before the bad one are replayed: at-least-once)
  const upTo = await committed(n.group, n.input);
  assert.ok(upTo <= 300 && upTo > 200, `committed ${upTo}: up to the bad record's batch, not past it`);

  const d = await run(cmd(` --on-error dlq=kafka:${n.dead}`), { env });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /kstream: map: dead-lettered=3\n/);
  const out = lines((await run(`${KS} consume ${n.output} --exit`, { env })).stdout).map((l) => JSON.parse(l).i);
  const replayed = Array.from({ length: 300 - upTo }, (_, k) => upTo + k);
  assert.deepEqual(out, [...first, ...replayed, ...Array.from({ length: 703 }, (_, k) => 300 + k)].filter((i) => ![300, 600, 900].includes(i)), 'every good record; the failed batch\'s once more');
  const dead = lines((await run(`${KS} consume ${n.dead} --exit --format envelope`, { env })).stdout).map((l) => JSON.parse(l));
  assert.deepEqual(dead.map((e) => e.value), ['this is not JSON', { i: 600, x: 1 }, 900]);
  for (const [e, offset] of dead.map((e, k) => [e, [300, 600, 900][k]])) {
    const h = Object.fromEntries(e.headers.map((x) => [x.key, x.value]));
    assert.equal(h['kstream.stage'], 'map');
    assert.match(h['kstream.reason'], /^map expression `\(\{i: r\.i, b: r\.a\.b\}\)` threw TypeError/);
    assert.equal(h['kstream.source'], `${n.input}/0@${offset}`);
    assert.deepEqual([h['kstream.topic'], h['kstream.partition'], h['kstream.offset']], [n.input, '0', String(offset)]);
  }
  assert.equal(await committed(n.group, n.input), 1003);
});

test('--exactly-once with dlq=kafka:: dead letters commit in the same transactions as the output', T, async () => {
  const n = names('eos');
  await badTopic(n);
  const r = await run(`${KS} consume ${n.input} --group ${n.group} --exit --exactly-once --fetch-max 8k + map '({i: r.i, b: r.a.b})' --on-error dlq=kafka:${n.dead} + produce ${n.output} --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);
  const out = lines((await run(`${KS} consume ${n.output} --exit --isolation read_committed`, { env })).stdout);
  assert.equal(out.length, 1000);
  const dead = lines((await run(`${KS} consume ${n.dead} --exit --isolation read_committed --format raw`, { env })).stdout);
  assert.deepEqual(dead, ['this is not JSON', '{"i":600,"x":1}', '900']);
  // the dead-letter topic was written transactionally: its end is past the commit markers
  const ends = await adm.fetchTopicOffsets(n.dead);
  assert.ok(Number(ends[0].high) > 3);
});

test('a value that is not an object where one is needed (window --time over Kafka values): one line naming topic/partition@offset', T, async () => {
  const n = names('notobj');
  await adm.createTopics({ topics: [{ topic: n.input, numPartitions: 1 }], waitForLeaders: true });
  await run(`${KS} produce ${n.input} --quiet`, '{"ts":1000,"n":1}\n42\n{"ts":2000,"n":3}\n', { env });
  const r = await run(`${KS} consume ${n.input} --exit + window tumbling 1m --time r.ts --no-watermarks`, { env });
  assert.equal(r.code, 1);
  noStack(r.stderr);
  assert.match(r.stderr, new RegExp(`^kstream: ${n.input}/0@1: invalid event time \\(missing\\) from --time \`r\\.ts\`.*\\n$`));
  assert.equal(lines(r.stdout).length, 1, 'the record before it was written');
});

test('produce --envelope: a line that is not an envelope fails after the lines before it were written; a missing dead-letter topic is named', T, async () => {
  const n = names('env');
  await adm.createTopics({ topics: [{ topic: n.output, numPartitions: 1 }], waitForLeaders: true });
  const r = await run(`${KS} produce ${n.output} --envelope`, '{"value":1}\n{"value":2}\n42\n{"value":4}\n', { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'kstream: stdin line 3: not an envelope object — --envelope expects lines written by `kstream consume --format envelope` — fix the input, or pass --on-error skip or --on-error dlq=<file> to set bad records aside\n');
  assert.deepEqual(lines((await run(`${KS} consume ${n.output} --exit`, { env })).stdout), ['1', '2']);
  const m = await run(`${KS} produce ${n.output} --envelope --on-error dlq=kafka:${n.dead}`, '{"value":5}\n42\n', { env });
  assert.equal(m.code, 1);
  assert.match(m.stderr, new RegExp(`kstream: topic \`${n.dead}\` does not exist — dead-letter topics are not created for you: \`kstream topics create ${n.dead}\`\\n$`));
});

test('SASL/SCRAM over TLS through the CLI flags: a fused exactly-once run works; no output or error ever shows the password', T, async () => {
  const saslBrokers = process.env.KSTREAM_SASL_BROKERS;
  const configFile = process.env.KSTREAM_SASL_CONFIG;
  assert.ok(saslBrokers && configFile, 'KSTREAM_SASL_BROKERS/KSTREAM_SASL_CONFIG not set — run through `npm test` (scripts/test.mjs starts the SASL listener)');
  const fs = await import('node:fs');
  const info = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  const n = names('sasl');
  const conn = `--brokers ${saslBrokers} --sasl-mechanism scram-sha-512 --sasl-username ${info.username} --tls-ca ${info.caPem}`;
  const good = { ...env, KSTREAM_SASL_PASSWORD: info.password };
  const runs = [];
  const logged = async (cmd, e = good, input) => {
    const r = await run(cmd, input, { env: e });
    runs.push(r);
    return r;
  };
  const p = await logged(`${KS} produce ${n.input} --create --partitions 2 --verbose ${conn}`, good, '{"i":1}\n{"i":2}\n{"i":3}\n');
  assert.equal(p.code, 0, p.stderr);
  await logged(`${KS} topics create ${n.output} --partitions 2 ${conn}`);
  const f = await logged(`${KS} consume ${n.input} --group ${n.group} --exit --exactly-once --verbose ${conn} + map '({j: r.i * 10})' + produce ${n.output} ${conn}`);
  assert.equal(f.code, 0, f.stderr);
  const c = await logged(`${KS} consume ${n.output} --exit --isolation read_committed ${conn}`);
  assert.deepEqual(lines(c.stdout).map((l) => JSON.parse(l).j).sort((a, b) => a - b), [10, 20, 30]);
  const g = await logged(`${KS} groups describe ${n.group} --json ${conn}`);
  assert.equal(g.code, 0, g.stderr);
  // wrong user, wrong password (also with --verbose): one line, exit 1
  for (const [user, pw] of [['nobody', info.password], [info.username, `${info.password}-wrong`]]) {
    const bad = await logged(`${KS} consume ${n.input} --exit --verbose ${conn.replace(info.username, user)}`, { ...env, KSTREAM_SASL_PASSWORD: pw });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /kstream: authentication failed at `.*` \(.*\) — check --sasl-mechanism/);
  }
  for (const r of runs) {
    assert.ok(!r.stdout.includes(info.password) && !r.stderr.includes(info.password), `the password leaked: ${r.stderr}`);
  }
});

test('a dead-letter topic that does not exist stops the run before its first record, not at its first bad one', T, async () => {
  const missing = `it-bad-nodlq-${randomUUID().slice(0, 8)}`;
  const r = await run(`${KS} filter 'r.a.b === 1' --on-error dlq=kafka:${missing}`, '{"a":{"b":1}}\n{"x":1}\n', { env });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'nothing written: the run did not start');
  assert.equal(r.stderr, `kstream: topic \`${missing}\` does not exist — dead-letter topics are not created for you: \`kstream topics create ${missing}\`\n`);
});
