// `kstream serve` against the real broker at KSTREAM_BROKERS: every endpoint and status code of DESIGN.md §4,
// results over SSE and WebSocket through a --pipeline, SSE resume with no gap and no duplicate (from the ring, and
// from Kafka on a gateway started later), a stream served by another gateway process, a slow subscriber cut off
// with memory bounded, and tables. Broker restarts and kill -9 are in serve-faults.test.mjs, the page in
// serve-page.test.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { itContext } from '../helpers/broker.mjs';
import { CLI, KS, start } from '../helpers/spawn.mjs';


const ALICE = 'alice-0123456789abcdef';
const BOB = 'bob-0123456789abcdef00';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-serve-'));
const keysFile = path.join(dir, 'keys.txt');
fs.writeFileSync(keysFile, `alice ${ALICE}\nbob sha256:${createHash('sha256').update(BOB).digest('hex')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// registered before itContext's own after(): the gateways stop before their topics are deleted with the rest
const gateways = [];
after(async () => {
  for (const g of gateways) g.proc.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.proc.exited));
});
const ctx = await itContext();
const { env, ok } = ctx;
/** The gateway's topics (<prefix>-in/-out) and its pipeline's group go with the test's own. */
/** A topic prefix of its own for a gateway (its topics are registered by gateway()). */
const pfx = (what) => `it-${what}-${randomUUID().slice(0, 8)}`;
const track = (prefix) => {
  ctx.topics.push(`${prefix}-in`, `${prefix}-out`);
  ctx.groups.push(`${prefix}-pipeline`);
};

/** Starts `kstream serve` on a free port; resolves once it said where it serves and /readyz answers 200. */
async function gateway(prefix, extra = '', runner = KS) {
  const proc = start(`exec ${runner} serve --api-keys ${keysFile} --port 0 --topic ${prefix} --partitions 3 ${extra}`, { env, stdin: 'ignore' });
  const g = { proc, prefix, url: undefined };
  gateways.push(g);
  if (!ctx.topics.includes(`${prefix}-in`)) track(prefix);
  const deadline = Date.now() + 30_000;
  while (!g.url) {
    const m = /serving at (http:\/\/\S+)/.exec(proc.stderr());
    if (m) g.url = m[1];
    else if (Date.now() > deadline) throw new Error(`serve did not start: ${proc.stderr()}`);
    else await sleep(50);
  }
  for (;;) {
    const r = await fetch(`${g.url}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`serve not ready: ${proc.stderr()}`);
    await sleep(100);
  }
  return g;
}

const auth = (key) => ({ authorization: `Bearer ${key}` });
async function call(g, method, p, { key = ALICE, body, headers = {} } = {}) {
  const res = await fetch(`${g.url}${p}`, { method, headers: { ...(key ? auth(key) : {}), ...headers }, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
const startStream = async (g, key = ALICE) => {
  const r = await call(g, 'POST', '/stream/start', { key });
  assert.equal(r.status, 201, r.text);
  return r.json;
};

/**
 * An SSE subscription read with node:http: events [{id, event, data}], `until(n)` waits for n result events, `close()`.
 * `headers` adds request headers (Last-Event-ID); `query` to the URL.
 */
function sse(g, id, { key = ALICE, headers = {}, query = '' } = {}) {
  const events = [];
  let status;
  let ended = false;
  let buf = '';
  const req = http.get(`${g.url}/stream/${id}/results${query}`, { headers: { ...auth(key), ...headers } }, (res) => {
    status = res.statusCode;
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buf += chunk;
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const ev = {};
        for (const line of block.split('\n')) {
          const m = /^([a-z]+): ?(.*)$/.exec(line);
          if (m) ev[m[1]] = ev[m[1]] === undefined ? m[2] : `${ev[m[1]]}\n${m[2]}`;
        }
        if (ev.data !== undefined || ev.event) events.push(ev);
      }
    });
    res.on('end', () => (ended = true));
    res.on('close', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  const results = () => events.filter((e) => !e.event).map((e) => ({ id: Number(e.id), data: JSON.parse(e.data) }));
  return {
    events,
    results,
    get status() {
      return status;
    },
    get ended() {
      return ended;
    },
    async until(n, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (results().length < n) {
        if (Date.now() > deadline) throw new Error(`${results().length} of ${n} results within ${ms} ms: ${JSON.stringify(events).slice(0, 400)}`);
        await sleep(20);
      }
      return results();
    },
    /** Waits for n results without decoding them. */
    async count(n, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        if (Date.now() > deadline) throw new Error(`${events.length} of ${n} events within ${ms} ms`);
        await sleep(10);
      }
    },
    async untilEnded(ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!ended) {
        if (Date.now() > deadline) throw new Error('the event stream did not end');
        await sleep(20);
      }
    },
    close: () => req.destroy(),
  };
}
const send = (g, id, records, key = ALICE) => call(g, 'POST', `/stream/${id}/send`, { key, body: records.map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });

const prefix = pfx('gw');
const PIPE = `--pipeline "filter 'r.drop !== true' + map '({...r, seen: true})'"`;
const gwA = await gateway(prefix, `${PIPE} --max-body 4k`);

test('serve: start, send (one record and NDJSON), results over SSE through the pipeline, end', { timeout: 60_000 }, async () => {
  const s = await startStream(gwA);
  assert.deepEqual(Object.keys(s).sort(), ['end_url', 'results_url', 'send_url', 'stream_id', 'ws_url']);
  assert.equal(s.results_url, `/stream/${s.stream_id}/results`);
  const sub = sse(gwA, s.stream_id);
  await sleep(300);
  assert.equal(sub.status, 200);
  const one = await call(gwA, 'POST', s.send_url, { body: '{"n":1}', headers: { 'content-type': 'application/json' } });
  assert.equal(one.status, 202);
  assert.deepEqual(one.json, { accepted: 1 });
  const many = await send(gwA, s.stream_id, [{ n: 2 }, { n: 3, drop: true }, { n: 4 }]);
  assert.deepEqual([many.status, many.json], [202, { accepted: 3 }]);
  const got = await sub.until(3);
  assert.deepEqual(got.map((r) => r.data), [{ n: 1, seen: true }, { n: 2, seen: true }, { n: 4, seen: true }], 'the pipeline ran: n 3 was filtered out');
  assert.ok(got[0].id < got[1].id && got[1].id < got[2].id, 'ids are increasing output offsets');
  assert.equal(sub.events.length, 3);
  // end: a 200, the subscriber gets `event: end` after the results and the stream closes; later sends are 409
  const end = await call(gwA, 'POST', s.end_url);
  assert.deepEqual([end.status, end.json], [200, { stream_id: s.stream_id, ended: true }]);
  await sub.untilEnded();
  assert.equal(sub.events.at(-1).event, 'end');
  assert.equal((await send(gwA, s.stream_id, [{ n: 5 }])).status, 409);
});

test('serve: auth — 401 with WWW-Authenticate without a key or with a wrong one, X-API-Key and hashed keys work, 403 on another key\'s stream', { timeout: 30_000 }, async () => {
  const none = await call(gwA, 'POST', '/stream/start', { key: null });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="kstream"');
  assert.match(none.json.error, /no API key/);
  const wrong = await call(gwA, 'POST', '/stream/start', { key: 'not-a-key-at-all-0000' });
  assert.equal(wrong.status, 401);
  assert.ok(!wrong.text.includes('not-a-key-at-all'), 'the presented key is not echoed');
  assert.equal((await call(gwA, 'POST', '/stream/start', { key: null, headers: { authorization: 'Basic abc' } })).status, 401);
  const viaHeader = await call(gwA, 'POST', '/stream/start', { key: null, headers: { 'x-api-key': BOB } });
  assert.equal(viaHeader.status, 201, 'bob\'s key is stored hashed and still works');
  const bobs = viaHeader.json.stream_id;
  const other = await send(gwA, bobs, [{ n: 1 }], ALICE);
  assert.equal(other.status, 403);
  assert.match(other.json.error, /belongs to another API key/);
  const sub = sse(gwA, bobs, { key: ALICE });
  await sleep(300);
  assert.equal(sub.status, 403);
  sub.close();
  // ?access_token= only on results and ws
  const qs = await fetch(`${gwA.url}/stream/start?access_token=${ALICE}`, { method: 'POST' });
  assert.equal(qs.status, 401);
  const viaToken = http.get(`${gwA.url}/stream/${bobs}/results?access_token=${BOB}`);
  const status = await new Promise((r) => viaToken.on('response', (res) => r(res.statusCode)));
  viaToken.destroy();
  assert.equal(status, 200);
  // nothing of a key in the metrics or the log
  const metrics = await call(gwA, 'GET', '/metrics');
  for (const k of [ALICE, BOB, bobs]) {
    assert.ok(!metrics.text.includes(k), 'no key or stream id in /metrics');
    assert.ok(!gwA.proc.stderr().includes(k), 'no key or stream id on stderr');
  }
});

test('serve: 400 with the line, 404, 405, 413, 426, and the health, metrics and page routes', { timeout: 30_000 }, async () => {
  const s = await startStream(gwA);
  const bad = await call(gwA, 'POST', s.send_url, { body: '{"n":1}\n{"n":2}\n{"n":' });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /^line 3: not JSON/);
  assert.equal((await call(gwA, 'POST', '/stream/st_nope/send', { body: '{}' })).status, 404);
  assert.equal((await call(gwA, 'GET', '/nothing/here')).status, 404);
  const wrongMethod = await call(gwA, 'GET', s.send_url);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST');
  const big = await call(gwA, 'POST', s.send_url, { body: JSON.stringify({ pad: 'x'.repeat(5000) }) });
  assert.equal(big.status, 413);
  assert.match(big.json.error, /--max-body/);
  assert.equal((await call(gwA, 'GET', s.ws_url)).status, 426);
  assert.deepEqual((await call(gwA, 'GET', '/healthz')).json, { ok: true });
  assert.deepEqual((await call(gwA, 'GET', '/readyz')).json, { ready: true });
  const m = await call(gwA, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^kstream_gateway_records_sent_total \d+$/m);
  assert.match(m.text, /^kstream_http_requests_total\{route="\/stream\/\{id\}\/send",status="400"\} \d+$/m);
  assert.match(m.text, /^kstream_records_in_total \d+$/m, 'the pipeline\'s own metrics share the registry');
  const page = await call(gwA, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(page.text, /<button id="start">/);
  // garbage on the socket is a 400, and the gateway goes on
  const raw = await new Promise((resolve) => {
    const sock = net.connect(new URL(gwA.url).port, '127.0.0.1', () => sock.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    sock.on('data', (d) => (text += d));
    sock.on('close', () => resolve(text));
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.equal((await call(gwA, 'GET', '/healthz')).status, 200);
});

test('serve: SSE resume — Last-Event-ID from the ring, ?from= from Kafka on a gateway started later, ?from=-1 from the start; no gap, no duplicate', { timeout: 90_000 }, async () => {
  const s = await startStream(gwA);
  const first = sse(gwA, s.stream_id);
  await sleep(300);
  assert.equal((await send(gwA, s.stream_id, [1, 2, 3, 4, 5].map((n) => ({ n })))).status, 202);
  const seen = await first.until(5);
  first.close();
  // dropped after 3: resume with the third's id while more arrive
  const lastId = seen[2].id;
  assert.equal((await send(gwA, s.stream_id, [6, 7].map((n) => ({ n })))).status, 202);
  const resumed = sse(gwA, s.stream_id, { headers: { 'last-event-id': String(lastId) } });
  const rest = await resumed.until(4);
  assert.deepEqual(rest.map((r) => r.data.n), [4, 5, 6, 7]);
  assert.deepEqual(rest.slice(0, 2).map((r) => r.id), seen.slice(3).map((r) => r.id));
  await send(gwA, s.stream_id, [{ n: 8 }]);
  assert.deepEqual((await resumed.until(5)).map((r) => r.data.n), [4, 5, 6, 7, 8], 'then live, once each');
  resumed.close();
  // a gateway started after those results: its ring is empty, it reads them back from the output topic
  const gwB = await gateway(prefix);
  const fromKafka = sse(gwB, s.stream_id, { query: `?from=${lastId}` });
  assert.deepEqual((await fromKafka.until(5)).map((r) => r.data.n), [4, 5, 6, 7, 8]);
  // and goes on live, also with records sent through the other gateway
  await send(gwA, s.stream_id, [{ n: 9 }]);
  assert.deepEqual((await fromKafka.until(6)).map((r) => r.data.n), [4, 5, 6, 7, 8, 9]);
  await sleep(300);
  assert.equal(fromKafka.results().length, 6, 'no duplicate');
  fromKafka.close();
  const all = sse(gwB, s.stream_id, { query: '?from=-1' });
  assert.deepEqual((await all.until(9)).map((r) => r.data.n), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  all.close();
  const badResume = await call(gwA, 'GET', `/stream/${s.stream_id}/results?from=abc`);
  assert.equal(badResume.status, 400);
  gwB.proc.kill('SIGTERM');
  const exit = await gwB.proc.exited;
  assert.equal(exit.code, 130, 'a signal ends serve cleanly, exit 130');
});

test('serve: WebSocket both ways — send and end frames acked, results and the end as frames, bad frames answered with errors', { timeout: 30_000 }, async () => {
  const s = await startStream(gwA);
  const ws = new WebSocket(`${gwA.url.replace('http', 'ws')}${s.ws_url}`, { headers: auth(ALICE) });
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  await new Promise((r, j) => {
    ws.on('open', r);
    ws.on('error', j);
  });
  ws.send(JSON.stringify({ type: 'send', data: { n: 1 }, ref: 'a' }));
  ws.send(JSON.stringify({ type: 'send', records: [{ n: 2 }, { n: 3 }], ref: 'b' }));
  ws.send('{not json');
  ws.send(JSON.stringify({ type: 'shout' }));
  const wait = async (test, what) => {
    const deadline = Date.now() + 15_000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`no ${what}: ${JSON.stringify(frames)}`);
      await sleep(20);
    }
  };
  await wait(() => frames.filter((f) => f.type === 'result').length === 3, 'three results');
  const acks = frames.filter((f) => f.type === 'ack');
  assert.deepEqual(acks.map((a) => [a.ref, a.accepted]).sort(), [['a', 1], ['b', 2]]);
  assert.deepEqual(frames.filter((f) => f.type === 'result').map((f) => f.data), [{ n: 1, seen: true }, { n: 2, seen: true }, { n: 3, seen: true }]);
  const errors = frames.filter((f) => f.type === 'error');
  assert.equal(errors.length, 2);
  assert.match(errors[0].error, /^line 1: not JSON/);
  assert.equal(errors[0].status, 400);
  assert.match(errors[1].error, /unknown frame type "shout"/);
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  ws.send(JSON.stringify({ type: 'end', ref: 'z' }));
  await wait(() => frames.some((f) => f.type === 'end'), 'the end frame');
  assert.equal(await closed, 1000);
  // refused upgrades: no key, another key's stream
  const refused = (headers) => new Promise((r) => {
    const w = new WebSocket(`${gwA.url.replace('http', 'ws')}${s.ws_url}`, { headers });
    w.on('unexpected-response', (_req, res) => r(res.statusCode));
    w.on('error', () => {});
  });
  assert.equal(await refused({}), 401);
  assert.equal(await refused(auth(BOB)), 403);
});

test('serve: a subscriber that does not read is disconnected once --max-buffer is waiting, and the gateway stays small', { timeout: 90_000 }, async () => {
  const gw = await gateway(pfx('slow'), '--max-buffer 256k');
  const s = await startStream(gw);
  // a raw socket that sends the request and never reads: the kernel buffers fill, then the gateway's
  const port = new URL(gw.url).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write(`GET ${s.results_url} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ALICE}\r\n\r\n`);
  sock.pause();
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.on('error', () => (closed = true));
  const reader = sse(gw, s.stream_id);
  await sleep(300);
  const pad = 'x'.repeat(2000);
  const total = 5000;
  for (let i = 0; i < total; i += 100) {
    const r = await send(gw, s.stream_id, Array.from({ length: 100 }, (_, k) => ({ n: i + k, pad })));
    assert.equal(r.status, 202);
    // paced by the reading subscriber, so that it is never the slow one (on a loaded machine it could be)
    await reader.count(i + 100, 30_000);
  }
  // the reading subscriber got everything, in order; the other is cut off
  assert.deepEqual((await reader.until(total)).map((r) => r.data.n), Array.from({ length: total }, (_, n) => n));
  const deadline = Date.now() + 20_000;
  let slow = 0;
  while (Date.now() < deadline) {
    const m = await call(gw, 'GET', '/metrics');
    slow = Number(/^kstream_gateway_slow_disconnects_total (\d+)/m.exec(m.text)?.[1] ?? 0);
    if (slow >= 1) break;
    await sleep(200);
  }
  assert.equal(slow, 1, 'one subscriber disconnected as slow');
  sock.resume();
  const t0 = Date.now();
  while (!closed && Date.now() - t0 < 5000) await sleep(50);
  assert.ok(closed, 'its connection was closed');
  const rss = Number(fs.readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
  assert.ok(rss < 300 * 1024 * 1024, `gateway RSS ${(rss / 1048576).toFixed(0)} MB`);
  reader.close();
});

test('serve: GET /tables/{name}/{key} serves a table topic (--tables), 404 for a key or a table it does not serve', { timeout: 60_000 }, async () => {
  const table = await ctx.createTopic('gw-table', 1);
  await ok(`printf '%s\\n' '{"key":"c1","value":{"name":"Ada"}}' '{"key":"c2","value":{"name":"Bea"}}' '{"key":"c1","value":{"name":"Cy"}}' '{"key":"c2","value":null}' | ${KS} produce ${table} --envelope --quiet`);
  const gw = await gateway(pfx('tables'), `--tables ${table}`);
  const c1 = await call(gw, 'GET', `/tables/${table}/c1`);
  assert.deepEqual([c1.status, c1.json], [200, { name: 'Cy' }]);
  assert.equal((await call(gw, 'GET', `/tables/${table}/c2`)).status, 404, 'deleted by its tombstone');
  assert.equal((await call(gw, 'GET', `/tables/${table}/c9`)).status, 404);
  const unknown = await call(gw, 'GET', '/tables/secrets/k');
  assert.equal(unknown.status, 404);
  assert.match(unknown.json.error, /serves `it-gw-table-/);
  assert.equal((await call(gw, 'GET', `/tables/${table}/c1`, { key: null })).status, 401);
  // the table follows its topic
  await ok(`echo '{"key":"c3","value":{"name":"Dee"}}' | ${KS} produce ${table} --envelope --quiet`);
  const deadline = Date.now() + 10_000;
  let c3;
  while ((c3 = await call(gw, 'GET', `/tables/${table}/c3`)).status !== 200 && Date.now() < deadline) await sleep(100);
  assert.deepEqual(c3.json, { name: 'Dee' });
});

test('serve: 429 with Retry-After and RateLimit headers past a key\'s burst; other keys unaffected', { timeout: 30_000 }, async () => {
  const gw = await gateway(pfx('rate'), '--rate 1/s --burst 3');
  const codes = [];
  let limited;
  for (let i = 0; i < 5; i++) {
    const r = await call(gw, 'POST', '/stream/start');
    codes.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.deepEqual(codes, [201, 201, 201, 429, 429]);
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.match(limited.headers.get('ratelimit'), /^limit=3, remaining=0, reset=1$/);
  assert.match(limited.json.error, /rate limit: 1 requests\/s with bursts of 3/);
  assert.equal((await call(gw, 'POST', '/stream/start', { key: BOB })).status, 201, 'bob has his own bucket');
  await sleep(1100);
  assert.equal((await call(gw, 'POST', '/stream/start')).status, 201, 'a token came back after a second');
});

test('serve: bad options are one line on stderr and exit 2', { timeout: 30_000 }, async () => {
  const noKeys = await ctx.ks(`${KS} serve --port 0`);
  assert.equal(noKeys.code, 2);
  assert.match(noKeys.stderr, /^kstream: serve needs --api-keys <file>/);
  const missing = await ctx.ks(`${KS} serve --api-keys ${dir}/nope.txt --port 0`);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read --api-keys `.*nope\.txt`: ENOENT/);
  const badPipe = await ctx.ks(`${KS} serve --api-keys ${keysFile} --port 0 --pipeline "produce x"`);
  assert.equal(badPipe.code, 2);
  assert.match(badPipe.stderr, /`produce` cannot run inside --pipeline/);
  const rekeys = await ctx.ks(`${KS} serve --api-keys ${keysFile} --port 0 --pipeline "aggregate count"`);
  assert.equal(rekeys.code, 2);
  assert.match(rekeys.stderr, /`aggregate` gives its results keys of its own/);
  for (const r of [noKeys, missing, badPipe, rekeys]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('serve --workers 2: one port, two gateway processes; a stream sent to on one connection is served on another; a signal ends them all', { timeout: 60_000 }, async () => {
  const gw = await gateway(pfx('workers'), '--workers 2');
  assert.match(gw.proc.stderr(), /serving at http:\/\/127\.0\.0\.1:\d+ — 2 worker processes/);
  const children = () => {
    try {
      return fs.readFileSync(`/proc/${gw.proc.pid}/task/${gw.proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  };
  assert.equal(children().length, 2, 'two worker processes');
  const s = await startStream(gw);
  // several subscribers and sends over fresh connections: the kernel spreads them over the workers
  const subs = [sse(gw, s.stream_id), sse(gw, s.stream_id), sse(gw, s.stream_id)];
  await sleep(500);
  for (let n = 1; n <= 6; n++) assert.equal((await fetch(`${gw.url}${s.send_url}`, { method: 'POST', headers: { ...auth(ALICE), connection: 'close' }, body: JSON.stringify({ n }) })).status, 202);
  for (const sub of subs) assert.deepEqual((await sub.until(6)).map((r) => r.data.n), [1, 2, 3, 4, 5, 6]);
  for (const sub of subs) sub.close();
  gw.proc.kill('SIGTERM');
  const exit = await gw.proc.exited;
  assert.equal(exit.code, 130);
  assert.equal(children().length, 0);
});

test('serve runs on Bun and Deno from the same build: REST send, SSE results and the WebSocket', { timeout: 90_000 }, async () => {
  const bin = (name) => `"${path.resolve('node_modules/.bin', name)}"`;
  for (const [rt, runner] of [['bun', bin('bun')], ['deno', `${bin('deno')} run -A`]]) {
    const gw = await gateway(pfx(rt), '', `${runner} "${CLI}"`);
    const s = await startStream(gw);
    const sub = sse(gw, s.stream_id);
    await sleep(300);
    assert.equal((await send(gw, s.stream_id, [{ n: 1 }])).status, 202, rt);
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}${s.ws_url}`, { headers: auth(ALICE) });
    const frames = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((r, j) => {
      ws.on('open', r);
      ws.on('error', j);
    });
    ws.send(JSON.stringify({ type: 'send', data: { n: 2 }, ref: 1 }));
    assert.deepEqual((await sub.until(2)).map((r) => r.data), [{ n: 1 }, { n: 2 }], rt);
    const deadline = Date.now() + 10_000;
    // the socket may see n 1's result too, when it connected before that came through the pipeline
    while (!frames.some((f) => f.type === 'result' && f.data.n === 2) && Date.now() < deadline) await sleep(20);
    assert.deepEqual(frames.find((f) => f.type === 'ack'), { type: 'ack', ref: 1, accepted: 1 }, rt);
    assert.ok(frames.some((f) => f.type === 'result' && f.data.n === 2), `${rt}: ${JSON.stringify(frames)}`);
    ws.close();
    sub.close();
    gw.proc.kill('SIGTERM');
    await gw.proc.exited;
  }
});

// The review's findings (each failed before its fix)
test('serve survives clients that reset upgrades, end a stream twice, resume past its end, or send a frame past --max-body', { timeout: 60_000 }, async () => {
  const s = await startStream(gwA);
  const port = Number(new URL(gwA.url).port);
  // upgrades refused (wrong key) whose sockets the client resets at once: an unhandled socket error killed serve
  await Promise.all(Array.from({ length: 50 }, () => new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(`GET ${s.ws_url} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nauthorization: Bearer wrong-key-0000000000\r\n\r\n`);
      sock.resetAndDestroy();
      resolve();
    });
    sock.on('error', resolve);
  })));
  await sleep(300);
  assert.equal((await call(gwA, 'GET', '/healthz')).status, 200, 'still serving after the resets');
  // two ends at once: one marker (the second is a 409), and a resume from the start past the end does not write after it
  await send(gwA, s.stream_id, [{ n: 1 }]);
  const ends = await Promise.all([1, 2, 3].map(() => call(gwA, 'POST', s.end_url)));
  assert.deepEqual(ends.map((e) => e.status).sort(), [200, 409, 409]);
  const all = sse(gwA, s.stream_id, { query: '?from=-1' });
  await all.untilEnded();
  assert.deepEqual(all.events.map((e) => e.event ?? 'result'), ['result', 'end']);
  // ids a client says it has seen are not sent again, however the gateway got them
  const t = await startStream(gwA);
  const ahead = sse(gwA, t.stream_id, { headers: { 'last-event-id': '1000000' } });
  await sleep(300);
  await send(gwA, t.stream_id, [{ n: 1 }]);
  const behind = sse(gwA, t.stream_id, { query: '?from=-1' });
  await behind.until(1);
  await sleep(300);
  assert.deepEqual(ahead.events, [], 'nothing at or before the resume point');
  ahead.close();
  behind.close();
  // a WebSocket frame past --max-body (4k here) closes the socket as its header is read (1009), not after buffering it
  const ws = new WebSocket(`${gwA.url.replace('http', 'ws')}${t.ws_url}`, { headers: auth(ALICE) });
  await new Promise((r, j) => {
    ws.on('open', r);
    ws.on('error', j);
  });
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => {});
  ws.send(JSON.stringify({ type: 'send', data: { pad: 'x'.repeat(200_000) } }));
  assert.equal(await closed, 1009);
  assert.equal((await call(gwA, 'GET', '/healthz')).status, 200);
  assert.equal((await call(gwA, 'GET', '/tables/%E0%A4%A/k')).status, 400, 'a malformed %-escape is the client\'s 400');
});

test('serve: a record the pipeline fails on is dead-lettered, and the streams behind it go on', { timeout: 60_000 }, async () => {
  const prefix = pfx('dead');
  const gw = await gateway(prefix, `--pipeline "map '({x: r.a.b})'"`);
  ctx.topics.push(`${prefix}-dead-letters`);
  const s = await startStream(gw);
  const sub = sse(gw, s.stream_id);
  await sleep(300);
  assert.equal((await send(gw, s.stream_id, [{ n: 1 }])).status, 202);
  assert.equal((await send(gw, s.stream_id, [{ a: { b: 7 } }])).status, 202);
  assert.deepEqual((await sub.until(1)).map((r) => r.data), [{ x: 7 }]);
  sub.close();
  const letters = await ok(`${KS} consume ${prefix}-dead-letters --exit --format envelope`);
  const [letter] = letters.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(letter.value.record ?? letter.value, letter.value.record ? { n: 1 } : letter.value);
  assert.match(JSON.stringify(letter), /"n":1/);
  assert.deepEqual((await call(gw, 'GET', '/readyz')).json, { ready: true });
  const m = await call(gw, 'GET', '/metrics');
  assert.match(m.text, /^kstream_errors_total 1$/m);
});

test('serve: a WebSocket handshake that fails takes no subscriber place', { timeout: 30_000 }, async () => {
  const gw = await gateway(pfx('wsleak'), '--max-subscribers 2');
  const s = await startStream(gw);
  const port = Number(new URL(gw.url).port);
  for (let i = 0; i < 3; i++) {
    const answer = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET ${s.ws_url} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 12\r\nauthorization: Bearer ${ALICE}\r\n\r\n`));
      let text = '';
      sock.on('data', (d) => (text += d));
      sock.on('close', () => resolve(text));
      sock.on('error', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 400/);
  }
  const a = sse(gw, s.stream_id);
  const b = sse(gw, s.stream_id);
  await sleep(300);
  assert.deepEqual([a.status, b.status], [200, 200], 'both places still free');
  const c = sse(gw, s.stream_id);
  await sleep(300);
  assert.equal(c.status, 429, 'the cap holds');
  for (const x of [a, b, c]) x.close();
});
