// `kstream bench --http` without a broker: its pure parts (the SSE parser, the seq scanner, the HTTP response
// reader of its send connections, /proc and /metrics parsing, option checks), and a whole run against a small
// stand-in gateway in this process that answers like `kstream serve` (201 start, 202 send, SSE results), refusing
// some sends with 429 and leaving some records out of the results, so every count of the JSON is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Buffer } from 'node:buffer';
import { SseParser, seqOf } from '../dist/src/loadgen/http/sse.js';
import { ResponseReader } from '../dist/src/loadgen/http/conn.js';
import { cpuOfStat, memOfStatus, procOfMetrics } from '../dist/src/loadgen/http/procstats.js';
import { gatewayUrl, httpSettings } from '../dist/src/loadgen/http/load.js';
import { run } from './helpers/spawn.mjs';

/** Events of `text` fed to a parser in pieces of `size` characters. */
function events(text, size = text.length) {
  const out = [];
  const p = new SseParser((id, data, event) => out.push({ id, data, event }));
  for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
  return { out, p };
}

test('SSE: id and data per event, comments and retry skipped, multi-line data joined, split anywhere', () => {
  const text = 'retry: 1000\n\n: ping\n\nid: 7\ndata: {"seq":1}\n\nid: 8\ndata: a\ndata:b\n\nevent: end\nid: 9\ndata: {}\n\n';
  const want = [
    { id: '7', data: '{"seq":1}', event: 'message' },
    { id: '8', data: 'a\nb', event: 'message' },
    { id: '9', data: '{}', event: 'end' },
  ];
  for (const size of [1, 2, 3, 7, text.length]) {
    const { out, p } = events(text, size);
    assert.deepEqual(out, want, `pieces of ${size}`);
    assert.equal(p.retry, 1000);
    assert.equal(p.lastId, '9');
  }
  // CR LF and lone CR end lines too, even with the CR and LF in different chunks
  for (const size of [1, 4, 100]) assert.deepEqual(events('id: 1\r\ndata: x\r\n\r\nid: 2\rdata: y\r\r', size).out, [{ id: '1', data: 'x', event: 'message' }, { id: '2', data: 'y', event: 'message' }]);
  // an event without data is not dispatched, but its id is kept
  const { out, p } = events('id: 5\n\n');
  assert.deepEqual(out, []);
  assert.equal(p.lastId, '5');
});

test('seqOf: the first "seq" of a JSON text, compact or spaced; -1 without one', () => {
  assert.equal(seqOf('{"seq":12345,"t":1.5}'), 12345);
  assert.equal(seqOf('{"type":"result","id":3,"data":{"seq":0,"t":2}}'), 0);
  assert.equal(seqOf('{"t":1, "seq" : 42}'), 42);
  assert.equal(seqOf('{"seq": 7}'), 7);
  assert.equal(seqOf('{"t":1}'), -1);
  assert.equal(seqOf('{"seq":"x"}'), -1);
});

test('ResponseReader: status per response, Content-Length and chunked bodies, split anywhere, Connection: close', () => {
  const a = 'HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nContent-Length: 14\r\n\r\n{"accepted":1}';
  const b = 'HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}';
  const c = 'HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
  const d = 'HTTP/1.1 204 No Content\r\n\r\n';
  const all = Buffer.from(a + b + c + d + a, 'latin1');
  for (const size of [1, 5, 17, all.length]) {
    const r = new ResponseReader();
    const got = [];
    for (let i = 0; i < all.length; i += size) r.push(all.subarray(i, i + size), (status, close) => got.push([status, close]));
    assert.deepEqual(got, [[202, false], [429, true], [503, false], [204, false], [202, false]], `pieces of ${size}`);
  }
  assert.throws(() => new ResponseReader().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'), () => {}), /not an HTTP response/);
});

test('gateway CPU and RSS: /proc/<pid>/stat (a name with spaces and parentheses), status, and /metrics text', () => {
  const stat = '4242 (kstream (serve) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 11 0 100 1000000 2000 18446744073709551615';
  assert.equal(cpuOfStat(stat), (1234 + 567) / 100);
  assert.throws(() => cpuOfStat('garbage'), /stat/);
  assert.deepEqual(memOfStatus('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n'), { rssBytes: 102400 * 1024, peakRssBytes: 204800 * 1024 });
  const metrics = '# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 1.5e8\nkstream_x{a="b"} 1\n';
  assert.deepEqual(procOfMetrics(metrics), { cpuSeconds: 12.5, rssBytes: 1.5e8 });
  assert.equal(procOfMetrics('kstream_records_in_total 3\n'), undefined);
});

test('gatewayUrl: host:port, :port, a bare port and full URLs; other schemes refused', () => {
  assert.equal(gatewayUrl('localhost:8080').href, 'http://localhost:8080/');
  assert.equal(gatewayUrl(':9000').href, 'http://127.0.0.1:9000/');
  assert.equal(gatewayUrl('9000').href, 'http://127.0.0.1:9000/');
  assert.equal(gatewayUrl('https://gw.example/api').href, 'https://gw.example/api/');
  assert.throws(() => gatewayUrl('ftp://x'), /not http or https/);
  assert.throws(() => gatewayUrl('http://x/?a=1'), /no query/);
});

test('httpSettings: defaults, the key from KSTREAM_API_KEY, and the errors', () => {
  const s = httpSettings({ http: 'localhost:1' }, { KSTREAM_API_KEY: 'k'.repeat(20) });
  assert.equal(s.apiKey, 'k'.repeat(20));
  assert.deepEqual([s.rate, s.streams, s.connections, s.batch, s.durationMs, s.warmupMs, s.ws], [1000, 100, 100, 1, 10_000, 2000, false]);
  const t = httpSettings({ http: 'x:1', apiKey: 'a', streams: 7, batch: 10, rate: 50, duration: 2000, warmup: 0, ws: true }, {});
  assert.deepEqual([t.apiKey, t.streams, t.connections, t.batch, t.rate, t.warmupMs, t.ws], ['a', 7, 7, 10, 50, 0, true]);
  assert.throws(() => httpSettings({ http: 'x:1' }, {}), /needs an API key/);
  assert.throws(() => httpSettings({ http: 'x:1', apiKey: 'a', streams: 0 }, {}), /invalid --streams/);
  assert.throws(() => httpSettings({ http: 'x:1', apiKey: 'a', brokers: 'b:9092' }, {}), /--brokers does not go with --http/);
  assert.throws(() => httpSettings({ http: 'x:1', apiKey: 'a', rate: 1, duration: 10 }, {}), /nothing to send/);
});

test('bench --http: bad options are one line on stderr, exit 2, no stack', async () => {
  const cases = [
    [['bench', '--http', 'localhost:1'], /needs an API key/],
    [['bench', '--http', 'ftp://x', '--api-key', 'k'], /not http or https/],
    [['bench', '--http', 'localhost:1', '--api-key', 'k', '--streams', '0'], /invalid --streams/],
    [['bench', '--http', 'localhost:1', '--api-key', 'k', '--gateway-pid', '999999999'], /no process 999999999/],
    [['bench', '--http', 'localhost:1', '--api-key', 'k', '--warmup', 'soon'], /invalid --warmup/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args, { env: { KSTREAM_API_KEY: undefined } });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
    assert.equal(r.stdout, '');
  }
  // nothing listening: a runtime error naming the gateway, exit 1
  const r = await run(['bench', '--http', '127.0.0.1:1', '--api-key', 'k', '--duration', '1s']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

/**
 * A stand-in for `kstream serve`: streams, 202 on send (429 for every 10th request), SSE results with offset ids
 * (records whose seq is divisible by 7 are left out, as a pipeline's filter would).
 */
async function fakeGateway() {
  const subs = new Map();
  let sends = 0;
  let offset = 0;
  let started = 0;
  let ended = 0;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer sekrit-sekrit-sekrit') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"the API key is not valid","status":401}');
      return;
    }
    const m = /^\/stream\/([^/]+)\/(send|results|end)$/.exec(req.url);
    if (req.url === '/stream/start') {
      const id = `st_${++started}`;
      const b = `/stream/${id}`;
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ stream_id: id, send_url: `${b}/send`, results_url: `${b}/results`, ws_url: `${b}/ws`, end_url: `${b}/end` }));
    } else if (m?.[2] === 'results') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 1000\n\n');
      subs.set(m[1], res);
      res.on('close', () => subs.delete(m[1]));
    } else if (m?.[2] === 'end') {
      ended++;
      res.writeHead(200).end('{}');
    } else if (m?.[2] === 'send') {
      const parts = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => {
        if (++sends % 10 === 0) {
          res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"rate limit","status":429}');
          return;
        }
        const lines = Buffer.concat(parts).toString().split('\n').filter(Boolean);
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: lines.length }));
        setTimeout(() => {
          for (const line of lines) {
            if (JSON.parse(line).seq % 7 === 0) continue;
            subs.get(m[1])?.write(`id: ${offset++}\ndata: ${line}\n\n`);
          }
        }, 2);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, server, counts: () => ({ started, ended, sends }) };
}

test('bench --http against a stand-in gateway: counts, errors by status, missing results, latency from the schedule', { timeout: 60_000 }, async () => {
  const gw = await fakeGateway();
  try {
    const r = await run(['bench', '--http', gw.url, '--streams', '4', '--rate', '200', '--duration', '1s', '--warmup', '0s', '--batch', '2', '--json'], { env: { KSTREAM_API_KEY: 'sekrit-sekrit-sekrit' } });
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.mode, 'http');
    assert.equal(o.transport, 'sse');
    assert.deepEqual([o.streams, o.rate, o.batch, o.duration_s, o.warmup_s], [4, 200, 2, 1, 0]);
    // 200 requests: every 10th refused with 429
    assert.deepEqual(o.requests, { scheduled: 200, sent: 200, acked: 180, failed: 20 });
    assert.deepEqual(o.errors, { 429: 20 });
    // the acked requests' records come back except those whose seq is a multiple of 7
    // which requests the stand-in refused depends on the order they reached it in: the missing count is a range
    const acked = o.records.acked;
    assert.equal(acked, 360);
    const missing = o.records.missing;
    assert.ok(missing > 0 && missing < 80, `missing ${missing}`);
    assert.equal(o.records.results, acked - missing);
    assert.equal(o.records.duplicates, 0);
    assert.equal(o.records.misrouted, 0);
    assert.equal(o.ack_ms.count, 180);
    assert.equal(o.result_ms.count, o.records.results);
    for (const l of [o.ack_ms, o.result_ms]) assert.ok(l.min >= 0 && l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max && l.max < 5000, JSON.stringify(l));
    // a result comes after its ack's request was sent: its latency from the same intended time is at least as large
    assert.ok(o.result_ms.min >= 1, `result min ${o.result_ms.min} ms (the stand-in waits 2 ms, timers may fire a little early)`);
    assert.equal(o.gateway, null, 'the stand-in has no /metrics');
    assert.match(o.gateway_note, /metrics/);
    assert.ok(o.connections_opened >= 1 && o.connections_opened <= 4, `${o.connections_opened} connections`);
    assert.equal(o.interrupted, false);
    assert.equal(o.plot, undefined);
    // the streams were started and ended
    assert.deepEqual([gw.counts().started, gw.counts().ended], [4, 4]);

    // the table, and a wrong key stops at the start with the status and a hint
    const t = await run(['bench', '--http', gw.url, '--streams', '2', '--rate', '100', '--duration', '500ms', '--warmup', '0s', '--api-key', 'sekrit-sekrit-sekrit']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /requests sent \/ acked \/ failed\s*│\s*50 \/ 45 \/ 5 of 50/);
    assert.match(t.stdout, /errors\s*│\s*429: 5/);
    assert.match(t.stdout, /ack ms\s*│\s*45\s*│/);
    assert.match(t.stdout, /send → result ms/);
    const bad = await run(['bench', '--http', gw.url, '--api-key', 'wrong', '--duration', '1s']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /POST \/stream\/start answered 401: the API key is not valid/);
    assert.match(bad.stderr, /--api-key/);
  } finally {
    gw.server.closeAllConnections();
    gw.server.close();
  }
});
