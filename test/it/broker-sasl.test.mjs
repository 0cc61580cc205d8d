// The SASL_SSL listener of the test broker (scripts/kafka.mjs up --sasl): SCRAM-SHA-256/512 over TLS with the
// broker's self-signed CA. scripts/test.mjs starts the broker with --sasl because this file mentions KSTREAM_SASL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const saslBrokers = (process.env.KSTREAM_SASL_BROKERS ?? '').split(',').filter(Boolean);
const configFile = process.env.KSTREAM_SASL_CONFIG;

const TIMEOUT = { timeout: 30_000 };

function saslKafka(mechanism, password, retry) {
  const info = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  return new Kafka({
    clientId: 'kstream-it-sasl',
    brokers: saslBrokers,
    logLevel: logLevel.NOTHING,
    retry,
    ssl: { ca: [fs.readFileSync(info.caPem, 'utf8')] },
    sasl: { mechanism, username: info.username, password: password ?? info.password },
  });
}

test('KSTREAM_SASL_BROKERS and KSTREAM_SASL_CONFIG are set', () => {
  assert.ok(
    saslBrokers.length > 0 && configFile,
    'KSTREAM_SASL_BROKERS/KSTREAM_SASL_CONFIG not set — run through `npm test`, or start `node scripts/kafka.mjs up --sasl`',
  );
  const info = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  assert.equal(info.mechanism, 'scram-sha-256');
  assert.match(fs.readFileSync(info.caPem, 'utf8'), /^-----BEGIN CERTIFICATE-----/);
});

for (const mechanism of ['scram-sha-256', 'scram-sha-512']) {
  test(`${mechanism} over TLS: produce and read back`, TIMEOUT, async (t) => {
    const kafka = saslKafka(mechanism);
    const topic = `it-sasl-${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: `it-sasl-${randomUUID()}` });
    t.after(async () => {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect().catch(() => {});
    });
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic }], waitForLeaders: true }), true);
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = [];
    await new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(message.value.toString());
            if (got.length === 3) resolve();
          },
        })
        .catch(reject);
    });
    assert.deepEqual(got, ['a', 'b', 'c']);
  });
}

test('a wrong password is rejected', TIMEOUT, async () => {
  const admin = saslKafka('scram-sha-256', 'not-the-password', { retries: 0 }).admin();
  await assert.rejects(admin.connect(), (e) => e.name === 'KafkaJSSASLAuthenticationError');
  await admin.disconnect().catch(() => {});
});
