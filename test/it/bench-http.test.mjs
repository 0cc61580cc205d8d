// `kstream bench --http` against a real `kstream serve` on the broker at KSTREAM_BROKERS: a short open-loop run over
// POST + SSE and one over WebSockets with batched records; every request acknowledged, every record back on its
// own stream once, latencies ordered, the gateway's CPU and RSS read from /proc, the --plot chart written.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';

const ctx = await itContext();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-bench-http-it-'));
const KEY = randomBytes(20).toString('hex');
const keysFile = path.join(tmp, 'keys.txt');
fs.writeFileSync(keysFile, `bench ${KEY}\n`);
const prefix = `it-bench-http-${randomBytes(4).toString('hex')}`;
ctx.topics.push(`${prefix}-in`, `${prefix}-out`);
ctx.groups.push(`${prefix}-pipeline`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const gw = start(`exec ${KS} serve --api-keys ${keysFile} --port 0 --topic ${prefix} --partitions 2 --rate 100000/s --burst 100000`, { env: ctx.env, stdin: 'ignore' });
after(async () => {
  gw.kill('SIGKILL');
  await gw.exited;
  fs.rmSync(tmp, { recursive: true, force: true });
});
let url;
for (const deadline = Date.now() + 30_000; !url; await sleep(50)) {
  url = /serving at (http:\/\/\S+)/.exec(gw.stderr())?.[1];
  if (!url && Date.now() > deadline) throw new Error(`serve did not start: ${gw.stderr()}`);
}

function checkLatency(l, count) {
  assert.equal(l.count, count);
  assert.equal(l.negative, 0);
  assert.ok(l.min >= 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, `ordered: ${JSON.stringify(l)}`);
  assert.ok(l.max < 20_000, `max ${l.max} ms`);
}

test('bench --http over POST + SSE: every request acked, every record back once on its stream, gateway usage from /proc', { timeout: 60_000 }, async () => {
  // the bench waits for /readyz itself (the gateway's pipeline joining its group)
  const r = await run(['bench', '--http', url, '--streams', '8', '--rate', '100', '--duration', '2s', '--warmup', '500ms', '--gateway-pid', String(gw.child.pid), '--json'], { env: { ...ctx.env, KSTREAM_API_KEY: KEY } });
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.mode, 'http');
  assert.equal(o.transport, 'sse');
  assert.deepEqual(o.requests, { scheduled: 200, sent: 200, acked: 200, failed: 0 });
  assert.deepEqual(o.errors, {});
  assert.deepEqual(o.records, { acked: 200, results: 200, missing: 0, duplicates: 0, misrouted: 0 });
  assert.equal(o.foreign_results, 0);
  checkLatency(o.ack_ms, 200);
  checkLatency(o.result_ms, 200);
  // a record comes back after Kafka acknowledged it: the result's median is not below the ack's
  assert.ok(o.result_ms.p50 >= o.ack_ms.min, JSON.stringify([o.ack_ms, o.result_ms]));
  assert.ok(o.requests_per_s > 50 && o.requests_per_s <= 101, `requests/s ${o.requests_per_s}`);
  assert.equal(o.gateway.source, 'proc');
  assert.equal(o.gateway.pid, gw.child.pid);
  assert.ok(o.gateway.rss_mb_max > 20 && o.gateway.rss_mb_max < 2000, JSON.stringify(o.gateway));
  assert.ok(o.gateway.cpu_seconds >= 0 && o.gateway.cpu_percent >= 0, JSON.stringify(o.gateway));
  assert.equal(o.interrupted, false);
});

test('bench --http --ws --batch 5: sends and results over WebSockets, --plot chart, gateway usage from /metrics', { timeout: 60_000 }, async () => {
  const svg = path.join(tmp, 'http.svg');
  const r = await run(['bench', '--http', url, '--api-key', KEY, '--ws', '--streams', '4', '--rate', '50', '--batch', '5', '--duration', '2s', '--warmup', '0s', '--plot', svg, '--json'], { env: ctx.env });
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.transport, 'ws');
  assert.equal(o.batch, 5);
  assert.deepEqual(o.requests, { scheduled: 100, sent: 100, acked: 100, failed: 0 });
  assert.deepEqual(o.records, { acked: 500, results: 500, missing: 0, duplicates: 0, misrouted: 0 });
  checkLatency(o.ack_ms, 100);
  checkLatency(o.result_ms, 500);
  assert.equal(o.records_per_s, o.requests_per_s * 5);
  assert.equal(o.gateway.source, 'metrics');
  assert.ok(o.gateway.rss_mb_max > 20, JSON.stringify(o.gateway));
  const chart = fs.readFileSync(svg, 'utf8');
  assert.match(chart, /^<svg/);
  assert.match(chart, /ack \(202\)/);
  assert.match(chart, /send → result/);
});
