// The broker at KSTREAM_BROKERS (started by scripts/test.mjs, or given by the caller) accepts a topic create,
// a produce and a consume with kafkajs, and hands back exactly what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { itContext } from '../helpers/broker.mjs';

// the admin and the cleanup from the shared context; the producer and consumer under test are kafkajs's own
const ctx = await itContext();
const { adm: admin } = ctx;
const brokers = ctx.brokers.split(',').filter(Boolean);
const TIMEOUT = { timeout: 30_000 };

test('KSTREAM_BROKERS names a broker', () => {
  assert.ok(brokers.length > 0, 'KSTREAM_BROKERS is not set — run through `npm test` or set it to host:port');
});

test('broker accepts topic create, produce and consume', TIMEOUT, async (t) => {
  const kafka = new Kafka({ clientId: 'kstream-it-broker', brokers, logLevel: logLevel.NOTHING });
  const topic = `it-broker-${randomUUID()}`;
  ctx.topics.push(topic);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `it-broker-${randomUUID()}` });
  t.after(async () => {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
  });

  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }), true);
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0].partitions.length, 2);

  const sent = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: JSON.stringify({ i, ok: i % 2 === 0 }) }));
  await producer.connect();
  const acks = await producer.send({ topic, messages: sent });
  assert.ok(acks.every((a) => a.errorCode === 0));

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, key: message.key.toString(), value: message.value.toString() });
          if (got.length === sent.length) resolve();
        },
      })
      .catch(reject);
  });

  // same key → same partition, and order within a key preserved
  const byValue = (a, b) => a.value.localeCompare(b.value);
  assert.deepEqual(
    got.map(({ key, value }) => ({ key, value })).sort(byValue),
    sent.map(({ key, value }) => ({ key, value })).sort(byValue),
  );
  for (const k of ['k0', 'k1', 'k2', 'k3']) {
    const mine = got.filter((g) => g.key === k);
    assert.equal(new Set(mine.map((g) => g.partition)).size, 1, `key ${k} spread over partitions`);
    assert.deepEqual(mine.map((g) => JSON.parse(g.value).i), sent.map((s, i) => (s.key === k ? i : -1)).filter((i) => i >= 0));
  }
});

test('a missing topic is an error, not auto-created', TIMEOUT, async (t) => {
  const kafka = new Kafka({ clientId: 'kstream-it-broker', brokers, logLevel: logLevel.NOTHING, retry: { retries: 1 } });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  t.after(() => producer.disconnect().catch(() => {}));
  await producer.connect();
  const topic = `it-missing-${randomUUID()}`;
  await assert.rejects(producer.send({ topic, messages: [{ value: 'x' }] }));
  assert.ok(!(await admin.listTopics()).includes(topic));
});
