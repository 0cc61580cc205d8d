// `kstream bench --brokers …` end to end against the real broker at KSTREAM_BROKERS: what was produced comes back,
// the latency summary is consistent, the bench topic is gone afterwards, the table and --plot are written.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { itContext } from '../helpers/broker.mjs';
import { runSync as kstream } from '../helpers/spawn.mjs';

const { brokers, adm: admin } = await itContext();
const T = { timeout: 90_000 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-bench-it-'));

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function checkLatency(l, count) {
  assert.equal(l.count, count, 'one latency per record');
  assert.equal(l.negative, 0);
  assert.ok(l.min >= 0, `min ${l.min}`);
  assert.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l['p99.9'] && l['p99.9'] <= l.max, `ordered: ${JSON.stringify(l)}`);
  assert.ok(l.max < 60_000, `max ${l.max} ms is not a latency of a 2 s run`);
}

test('bench --brokers at a constant rate: every record produced comes back once, latency summary, topic deleted', T, async () => {
  const r = kstream(['bench', '--brokers', brokers, '--rate', '2000', '--duration', '2s', '--partitions', '2', '--json'], '', { timeout: 80_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.mode, 'kafka');
  assert.equal(out.rate, 2000);
  assert.equal(out.partitions, 2);
  // the schedule fixes the count: 2000 records/s for 2 s
  assert.equal(out.produced, 4000);
  assert.equal(out.consumed, 4000);
  assert.equal(out.duplicates, 0);
  assert.equal(out.missing, 0);
  assert.equal(out.latency_from, 'intended send time');
  checkLatency(out.latency_ms, 4000);
  // the default pipeline keeps only latency_ms > 50: some but not all records come out of it
  assert.ok(out.records_out > 0 && out.records_out < 4000, `records_out ${out.records_out}`);
  // paced at 2000/s for 2 s: both throughputs are the rate, less the last round trip (and any stall of a busy machine)
  assert.ok(out.produce_records_per_s > 500 && out.produce_records_per_s <= 2100, `produce ${out.produce_records_per_s}`);
  assert.ok(out.consume_records_per_s > 500 && out.consume_records_per_s <= 2100, `consume ${out.consume_records_per_s}`);
  assert.ok(out.ack_ms.count > 0);
  assert.equal(out.topic_deleted, true);
  assert.match(out.topic, /^kstream-bench-/);
  const topics = await admin.listTopics();
  assert.ok(!topics.includes(out.topic), `${out.topic} still exists`);
});

test('bench --brokers flat out with --count, no stages: table on stdout and a latency chart in --plot', T, async () => {
  const svg = path.join(tmp, 'latency.svg');
  const html = path.join(tmp, 'latency.html');
  const r = kstream(['bench', '--brokers', brokers, '--rate', '0', '--count', '20000', '--pipeline', 'none', '--plot', svg], '', { timeout: 80_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /produced \/ consumed\s*│\s*20,000 \/ 20,000/);
  assert.match(r.stdout, /\(none: consume only\)/);
  assert.match(r.stdout, /as fast as possible/);
  for (const head of ['p50', 'p90', 'p99', 'p99.9', 'max']) assert.match(r.stdout, new RegExp(`│\\s*${head.replace('.', '\\.')}\\s*│`));
  assert.match(r.stdout, /end to end ms\s*│\s*20000\s*│/);
  const text = fs.readFileSync(svg, 'utf8');
  assert.match(text, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(text, /end-to-end latency \(from send\)/);
  assert.match(text, /as fast as possible, 3 partitions/);
  // one point per plotted percentile, the last one the max
  const points = text.match(/<polyline [^>]*points="([^"]+)"/)[1].trim().split(/\s+/);
  assert.equal(points.length, 14);
  assert.match(text, /<title>p100: [\d.]+ ms<\/title>/);

  const h = kstream(['bench', '--brokers', brokers, '--rate', '5000', '--count', '1000', '--json', '--plot', html], '', { timeout: 80_000 });
  assert.equal(h.code, 0, h.stderr);
  const out = JSON.parse(h.stdout);
  assert.equal(out.produced, 1000);
  assert.equal(out.consumed, 1000);
  checkLatency(out.latency_ms, 1000);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /<svg /);
  assert.match(page, /5,000 records\/s, 3 partitions/);
});

test('bench --brokers names an unreachable broker in one line, quickly', T, async () => {
  const t0 = Date.now();
  const r = kstream(['bench', '--brokers', '127.0.0.1:1', '--rate', '100', '--duration', '1s'], '', { timeout: 30_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /127\.0\.0\.1:1/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // README, "Connection": "An unreachable broker fails within about two seconds" (2 s and half again for a loaded
  // machine, as in it/consume-produce)
  assert.ok(Date.now() - t0 < 3000, `fails within about two seconds: took ${Date.now() - t0} ms`);
});
