// The produce path at a steady trickle (issue 10 item 6): what made `kstream gen --rate 20k | kstream produce` stall
// and cost the broker twice kcat's CPU per record. The speed itself is shown by bench/latency.mjs; these pin the
// behaviours behind it, without a broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { WireProducer } from '../dist/src/kafka/client/producer.js';
import { KafkajsClient } from '../dist/src/kafka/client/client.js';
import { KafkaRun } from '../dist/src/kafka/connect/run.js';
import { KafkaSink } from '../dist/src/kafka/connect/sink.js';
import { MissingTopic } from '../dist/src/kafka/errors.js';
import { LineSpans } from '../dist/src/pipeline/spans.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Records in a record batch (v2): the int32 at byte 57. */
const recordsIn = (batch) => batch.readInt32BE(57);

/** A Wire with one broker and `n` partitions that records every Produce request and acknowledges it at once. */
function fakeWire(n = 3) {
  const requests = [];
  return {
    requests,
    cfg: { brokers: ['fake:9092'] },
    outage: { ok() {}, failed() { return 0; } },
    async partitions(topic) {
      return { topic, partitions: Array.from({ length: n }, (_, partition) => ({ partition, leader: 1, replicas: [1], isr: [1] })) };
    },
    async produce(leader, acks, timeoutMs, topics) {
      const parts = topics[0].partitions.map((p) => ({ partition: p.partition, records: recordsIn(p.records) }));
      requests.push(parts);
      return parts.map((p) => ({ topic: topics[0].topic, partition: p.partition, errorCode: 0, baseOffset: 0 }));
    },
  };
}

const OPTS = { acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000 };

/** `n` keyless records of about 100 bytes. */
function batch(n, first = 0) {
  const values = Array.from({ length: n }, (_, i) => `{"seq":${first + i},"pad":"${'x'.repeat(80)}"}`);
  return { count: n, keys: new Array(n).fill(null), values, asciiValues: true, timestamps: new Array(n).fill(1_767_225_600_000), partitions: undefined, headers: undefined };
}

test('with --linger, sends arriving between requests share the next one; a send after a quiet spell goes at once', async () => {
  const wire = fakeWire();
  const LINGER = 30;
  const p = new WireProducer(wire, { ...OPTS, lingerMs: LINGER });
  // 20 sends a millisecond apart, as a paced pipe hands them over: the first goes alone, the rest wait for the linger
  const sends = [];
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    sends.push(p.send('t', batch(25, i * 25)));
    await sleep(1);
  }
  const spread = performance.now() - t0;
  await Promise.all(sends);
  const requests = wire.requests.length;
  // one request per linger the sends spanned, plus the first (a busy machine may spread the sends out)
  assert.ok(requests <= Math.ceil(spread / LINGER) + 1, `20 sends over ${spread.toFixed(0)} ms made ${requests} requests (one per send before the fix)`);
  assert.equal(wire.requests.flat().reduce((s, r) => s + r.records, 0), 500);
  // later, after a quiet spell longer than the linger: the request is made at once, not after another linger
  await sleep(LINGER + 10);
  const lone = p.send('t', batch(1));
  await sleep(0);
  assert.equal(wire.requests.length, requests + 1, 'a lone send waited for the linger');
  await lone;
});

test('a send of a full batch goes at once, linger or not; lingerMs 0 keeps one request per send', async () => {
  const wire = fakeWire();
  const p = new WireProducer(wire, { ...OPTS, batchRecords: 100, lingerMs: 60_000 });
  const t0 = performance.now();
  await p.send('t', batch(100));
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(wire.requests.length, 1);

  const wire0 = fakeWire();
  const p0 = new WireProducer(wire0, OPTS);
  await Promise.all([p0.send('t', batch(5)), p0.send('t', batch(5)), p0.send('t', batch(5))]);
  assert.equal(wire0.requests.length, 3);
});

test('coalesced sends keep their order within a partition, and each resolves only when its request is acknowledged', async () => {
  const wire = fakeWire(1);
  let release;
  const gate = new Promise((r) => (release = r));
  const produce = wire.produce.bind(wire);
  wire.produce = async (...a) => {
    await gate;
    return produce(...a);
  };
  const p = new WireProducer(wire, { ...OPTS, lingerMs: 5 });
  let done = 0;
  const sends = [0, 1, 2, 3].map((i) => p.send('t', batch(10, i * 10)).then(() => done++));
  await sleep(30);
  assert.equal(done, 0, 'a send resolved before its request was acknowledged');
  release();
  await Promise.all(sends);
  assert.equal(done, 4);
  assert.deepEqual(wire.requests.map((r) => r.map((x) => x.partition)).flat().every((x) => x === 0), true);
  assert.equal(wire.requests.flat().reduce((s, r) => s + r.records, 0), 40);
});

/** Runs `body` with a stubbed sink, then ends it (acknowledging what is in flight) and puts the client back. */
async function withStubbedSink(...args) {
  const body = args.pop();
  const s = stubbedSink(...args);
  try {
    await body(s);
    const end = s.sink.end();
    await sleep(10);
    s.ack();
    await end;
  } finally {
    s.restore();
  }
}

/**
 * A Kafka sink whose client is a stub (connect and topic check at once) and whose producer acknowledges only when
 * `ack()` is called: what the runner sees of writes while requests wait for the broker.
 */
function stubbedSink({ connected = Promise.resolve(), exists = true } = {}) {
  const pending = [];
  const sends = [];
  const asked = [];
  const proto = KafkajsClient.prototype;
  const saved = { connect: proto.connect, topicExists: proto.topicExists, topicConfig: proto.topicConfig, producer: proto.producer, close: proto.close };
  proto.connect = () => connected;
  proto.topicExists = async () => exists;
  proto.topicConfig = async (topic, name) => { asked.push(`${topic} ${name}`); return null; };
  proto.close = async () => {};
  proto.producer = () => ({
    send: (topic, out) => {
      sends.push(out.count);
      return new Promise((resolve) => pending.push(resolve));
    },
    close: async () => {},
  });
  const restore = () => Object.assign(proto, saved);
  const sink = new KafkaSink({ brokers: ['127.0.0.1:1'], clientId: 'test' }, {
    topic: 't', mode: 'json', headers: [], lingerMs: 5, quiet: true, log() {},
    errors: new RecordErrors({ mode: 'fail' }, 'produce'), ...OPTS,
  }, new KafkaRun());
  sink.pipelined = true;
  return { sink, pending, sends, asked, ack: () => pending.splice(0).forEach((r) => r()), restore };
}

function lines(n, size = 100) {
  const line = `{"pad":"${'x'.repeat(size - 11)}"}\n`;
  const buf = Buffer.from(line.repeat(n), 'latin1');
  const spans = new LineSpans(buf, n);
  for (let i = 0; i < n; i++) spans.push(i * line.length, (i + 1) * line.length - 1);
  return spans;
}

test('produce learns its topic\'s limit before the first input arrives; only a topic it must create waits for input', async () => {
  // the limit was asked at the first write, and loading what asked for it held a paced pipe's first records ~200 ms
  await withStubbedSink(async (s) => {
    await sleep(20);
    assert.deepEqual(s.asked, ['t max.message.bytes']);
  });
  const missing = stubbedSink({ exists: false });
  try {
    await sleep(20);
    assert.deepEqual(missing.asked, [], 'a missing topic is made (and then asked about) only once there is input');
  } finally {
    missing.restore();
  }
});

test('a pipelined produce keeps taking small writes while earlier ones wait for their acks (it stopped at 4)', async () => {
  await withStubbedSink(async (s) => {
    // 50 writes of a pipe read each (25 lines, 2.5 kB): none may wait for an ack
    for (let i = 0; i < 50; i++) {
      const w = s.sink.writeLines(lines(25));
      const r = await Promise.race([w.then(() => 'written'), sleep(500).then(() => 'blocked')]);
      assert.equal(r, 'written', `write ${i + 1} waited for an acknowledgement with ${s.pending.length} sends unacknowledged`);
    }
    assert.equal(s.pending.length, 50);
  });
});

test('a pipelined produce still bounds what is in flight: past 4 MB of input a write waits for the oldest ack', async () => {
  await withStubbedSink(async (s) => {
    // 2.5 MB each: the second write makes 5 MB in flight, so it waits until the first is acknowledged
    await s.sink.writeLines(lines(25_000));
    const second = s.sink.writeLines(lines(25_000));
    const r = await Promise.race([second.then(() => 'written'), sleep(300).then(() => 'blocked')]);
    assert.equal(r, 'blocked');
    s.ack();
    await second;
  });
});

test('topicExists asks for the one topic on the client\'s own connection, not the admin\'s list on a second one', async () => {
  const client = new KafkajsClient({ brokers: ['127.0.0.1:1'], clientId: 'test' });
  const asked = [];
  // the wire's metadata lookup, as Wire.partitions answers: the partitions, or MissingTopic
  Object.defineProperty(client, 'wire', { value: { async partitions(t) { asked.push(t); if (t === 'here') return { topic: t, partitions: [] }; throw new MissingTopic(t); } } });
  client.admin = () => assert.fail('topicExists opened the admin client (a second connection and a list of every topic)');
  assert.equal(await client.topicExists('here'), true);
  assert.equal(await client.topicExists('gone'), false);
  assert.deepEqual(asked, ['here', 'gone']);
});

test('produce and consume load kafkajs as one bundled file, not file by file (most of a Kafka command\'s start-up)', () => {
  // a fresh process: this one may have loaded kafkajs already
  const code = `
    await import(${JSON.stringify(new URL('../dist/src/kafka/client/client.js', import.meta.url).href)});
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(loaded));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stdout);
  assert.deepEqual(loaded.filter((k) => k.includes('node_modules/kafkajs/')), [], 'no kafkajs file read on its own');
  assert.ok(loaded.some((k) => k.endsWith('dist/src/kafka/transport/kafkajs-internals.cjs')), 'the bundle is what the client is built on');
  // the bundle holds kafkajs's modules as they were: admin, consumer and producer are there for the admin client,
  // and run only when it is made (esbuild wraps each module in a function called on first require)
  const bundle = fs.readFileSync(new URL('../dist/src/kafka/transport/kafkajs-internals.cjs', import.meta.url), 'utf8');
  // (module paths as esbuild names them: relative to where the build ran, wherever node_modules is)
  assert.match(bundle, /node_modules\/kafkajs\/src\/cluster\/index\.js"\(/);
  assert.match(bundle, /node_modules\/kafkajs\/src\/admin\/index\.js"\(/);
  assert.ok(!bundle.startsWith('"use strict"'), 'kafkajs runs in sloppy mode, as written');
});

test('bench --brokers at a constant rate lingers like produce (a request per pacer tick cost the broker 3× the CPU); flat out it does not', async () => {
  const { runKafkaBench } = await import('../dist/src/kafka/bench.js');
  const proto = KafkajsClient.prototype;
  const saved = { connect: proto.connect, createTopic: proto.createTopic, deleteTopics: proto.deleteTopics, close: proto.close, producer: proto.producer };
  const seen = [];
  const stop = new Error('stop here');
  Object.assign(proto, {
    connect: async () => {},
    createTopic: async () => {},
    deleteTopics: async () => {},
    close: async () => {},
    producer: (opts) => {
      seen.push(opts);
      throw stop;
    },
  });
  try {
    const ctx = { fused: false, index: 0, onError: { mode: 'fail' }, quiet: true, verbose: false, log() {} };
    await assert.rejects(runKafkaBench({ brokers: '127.0.0.1:1', rate: '20k', duration: '1s' }, ctx), (e) => e === stop);
    await assert.rejects(runKafkaBench({ brokers: '127.0.0.1:1', count: '1000' }, ctx), (e) => e === stop);
  } finally {
    Object.assign(proto, saved);
  }
  assert.equal(seen.length, 2);
  assert.ok(seen[0].lingerMs >= 1, `paced bench producer lingerMs ${seen[0].lingerMs}`);
  assert.ok(!seen[1].lingerMs, 'flat out, sends are big enough without lingering');
});

test('an idle kafkajs request queue arms no timer (it re-armed a 1 ms check for good); one that waits still checks', async () => {
  // the transport patches the queue as its first wire is made
  void new KafkajsClient({ brokers: ['127.0.0.1:1'], clientId: 'test' }).wire;
  // the queue the transport uses: the one inside the bundled kafkajs (scripts/postbuild.mjs)
  const RequestQueue = createRequire(import.meta.url)('../dist/src/kafka/transport/kafkajs-internals.cjs').RequestQueue();
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const q = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger });
  try {
    // what a response's arrival runs: nothing pending, so nothing to check later
    q.checkPendingRequests();
    assert.equal(q.throttleCheckTimeoutId, null, 'a check was armed with nothing pending');
    // over the in-flight limit, a request waits: the check is armed, and sends it once there is room
    const sent = [];
    const push = (id) => q.push({ entry: { correlationId: id, resolve() {}, reject() {} }, expectResponse: true, requestTimeout: 30_000, sendRequest: () => sent.push(id) });
    push(1);
    push(2);
    assert.deepEqual(sent, [1]);
    assert.notEqual(q.throttleCheckTimeoutId, null);
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    assert.deepEqual(sent, [1, 2]);
  } finally {
    q.destroy();
  }
});

test('a pipelined produce reads on while it connects: writes queue behind the connection and go out in order', async () => {
  let connect;
  await withStubbedSink({ connected: new Promise((r) => (connect = r)) }, async (s) => {
    for (let i = 1; i <= 5; i++) {
      const r = await Promise.race([s.sink.writeLines(lines(i)).then(() => 'written'), sleep(500).then(() => 'blocked')]);
      assert.equal(r, 'written', `write ${i} waited for the connection`);
    }
    assert.deepEqual(s.sends, []);
    connect();
    await sleep(20);
    assert.deepEqual(s.sends, [1, 2, 3, 4, 5]);
  });
});

test('a pipelined produce to a missing topic still fails with the topic named, at the next write or at the end', async () => {
  const s = stubbedSink({ exists: false });
  try {
    await s.sink.writeLines(lines(3)).catch(() => undefined);
    await sleep(10);
    await assert.rejects(async () => {
      await s.sink.writeLines(lines(3));
      await s.sink.end();
    }, /topic `t` does not exist/);
    assert.deepEqual(s.sends, []);
  } finally {
    s.restore();
  }
});
