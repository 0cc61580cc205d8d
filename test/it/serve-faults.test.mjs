// Gateway faults (`kstream serve`, issue 15 item 4), on a broker of this file's own (the test kills it):
//  - the broker killed with SIGKILL and restarted under steady sends: while it is down a send is 503 with a JSON
//    reason, never another 5xx; after it returns the same gateway process accepts sends again and /readyz is 200
//    again by itself; every record acknowledged with 202 is among the stream's results (read back over SSE from the
//    stream's start). Duplicates are allowed: the gateway is at-least-once (a send that got 503 may still have
//    been written, the pipeline may process a record again after a failure).
//  - the gateway killed with kill -9: a second gateway on the same topics serves the same stream, and a subscriber
//    that resumes on it with Last-Event-ID gets exactly the results after its last id — no gap, no duplicate.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { committedSum, endSum, itContext, restartBroker } from '../helpers/broker.mjs';
import { start } from '../helpers/spawn.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** How long a test client waits for a send's answer: three times the gateway's producer timeout (5 s). */
const SEND_TIMEOUT_MS = 15_000;

// a broker of this file's own: the first test kills and restarts it
const { env, adm, dir, topics, groups } = await itContext({ own: 'it-serve-fault' });

const KEY = randomBytes(24).toString('hex');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-serve-faults-'));
const keysFile = path.join(tmp, 'keys.txt');
fs.writeFileSync(keysFile, `faults ${KEY}\n`);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const AUTH = { authorization: `Bearer ${KEY}` };

/** A fresh topic prefix; its topics and the pipeline's group are deleted after the file. */
function prefix(what) {
  const p = `it-serve-${what}-${randomUUID().slice(0, 8)}`;
  topics.push(`${p}-in`, `${p}-out`);
  groups.push(`${p}-pipeline`);
  return p;
}

/**
 * A fresh prefix whose topics exist, with leaders, before serve starts: the fault tests are not about serve
 * creating its topics (the last test is; serve can fail right after creating them).
 */
async function prefixWithTopics(what, partitions = 3) {
  const p = prefix(what);
  await adm.createTopics({ topics: [`${p}-in`, `${p}-out`].map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
  // the single broker may answer "not the leader" for a moment after it names itself leader
  await until(async () => {
    try {
      await adm.fetchTopicOffsets(`${p}-in`);
      await adm.fetchTopicOffsets(`${p}-out`);
      return true;
    } catch {
      return false;
    }
  }, 10_000, `the leaders of ${p}-in and ${p}-out`);
  return p;
}

/** `kstream serve` on a free port; resolves { gw, url } once it prints where it serves. Stopped after the file. */
async function serve(topic, partitions = 3) {
  const gw = start(['serve', '--api-keys', keysFile, '--port', '0', '--topic', topic, '--partitions', String(partitions)], { env, stdin: 'ignore' });
  let ended = false;
  gw.exited.then(() => (ended = true));
  after(async () => {
    if (ended) return;
    gw.kill('SIGINT');
    const t = setTimeout(() => gw.kill('SIGKILL'), 10_000);
    await gw.exited;
    clearTimeout(t);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /kstream: serving at (http:\/\/127\.0\.0\.1:\d+) /.exec(gw.stderr());
    if (m) return { gw, url: m[1], ended: () => ended };
    if (ended || Date.now() > deadline) throw new Error(`kstream serve did not start: ${gw.stderr()}`);
    await sleep(50);
  }
}

/** GET /readyz → { status, body }. */
async function readyz(url) {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { status: 0, body: e.message };
  }
}

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readyz(url);
    if (r.status === 200) return r;
    if (Date.now() > deadline) throw new Error(`/readyz not 200 within ${ms} ms: ${r.status} ${r.body}`);
    await sleep(200);
  }
}

async function startStream(url) {
  const res = await fetch(`${url}/stream/start`, { method: 'POST', headers: AUTH });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.stream_id;
}

/** POST one record; → { status, body, retryAfter } or { status: 'error', body } when the request itself failed. */
async function send(url, id, record, timeoutMs = 20_000) {
  try {
    const res = await fetch(`${url}/stream/${id}/send`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(record), signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
  } catch (e) {
    return { status: 'error', body: e.message };
  }
}

/**
 * An SSE subscription to a stream's results: `events` fills with { id, event, data } as they come. `headers` may
 * carry Last-Event-ID; `query` e.g. '?from=-1'.
 */
function subscribe(url, id, { headers = {}, query = '' } = {}) {
  const ac = new AbortController();
  const s = { events: [], status: undefined, error: undefined, retry: undefined, close: () => ac.abort() };
  s.done = (async () => {
    const res = await fetch(`${url}/stream/${id}/results${query}`, { headers: { ...AUTH, ...headers }, signal: ac.signal });
    s.status = res.status;
    if (res.status !== 200) {
      s.error = await res.text();
      return;
    }
    const dec = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = { id: undefined, event: 'message', data: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
          if (field === 'id') ev.id = Number(value);
          else if (field === 'event') ev.event = value;
          else if (field === 'data') ev.data.push(value);
          else if (field === 'retry') s.retry = Number(value);
        }
        if (ev.data.length) s.events.push({ id: ev.id, event: ev.event, data: ev.data.join('\n') });
      }
    }
  })().catch((e) => {
    if (!ac.signal.aborted) s.error = e.message;
  });
  return s;
}

async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

test('broker killed (SIGKILL) and restarted under steady sends', { timeout: 120_000 }, async (t) => {
  const topic = await prefixWithTopics('brk');
  const { gw, url, ended } = await serve(topic);
  await waitReady(url, 30_000);
  const STREAMS = 2;
  const ids = [];
  for (let s = 0; s < STREAMS; s++) ids.push(await startStream(url));

  // each stream: one record per request, a request every 50 ms whether or not the last was answered yet (a steady
  // pace, at most 100 unanswered per stream); seqs are unique across streams. A client gives a send
  // SEND_TIMEOUT_MS: the gateway's own producer timeout is 5 s, so an answer is due well before
  let nextSeq = 0;
  let stop = false;
  let paused = false;
  let inFlightNow = 0;
  const sent = []; // { seq, s, status, body, retryAfter, at, end }
  const acked = ids.map(() => new Set());
  t.after(() => {
    stop = true;
  });
  const loops = ids.map(async (id, s) => {
    const mine = new Set();
    while (!stop) {
      if (!paused && mine.size < 100) {
        const seq = nextSeq++;
        const at = Date.now();
        inFlightNow++;
        const p = send(url, id, { seq, s }, SEND_TIMEOUT_MS).then((r) => {
          inFlightNow--;
          mine.delete(p);
          sent.push({ seq, s, ...r, at, end: Date.now() });
          if (r.status === 202) acked[s].add(seq);
        });
        mine.add(p);
      }
      await sleep(50);
    }
    await Promise.all(mine);
  });
  // /readyz, every 250 ms, all along
  const probes = []; // { at, status, body }
  const prober = (async () => {
    while (!stop) {
      const at = Date.now();
      probes.push({ at, ...(await readyz(url)) });
      await sleep(250);
    }
  })();
  let killAt = Infinity;
  let backAt = Infinity;
  let restoredAt = Infinity;
  const phase = (x) => (x.end < killAt ? '' : x.at > restoredAt ? 'b' : 'd');
  const timeline = () => sent.slice().sort((x, y) => x.seq - y.seq).map((x) => `${x.seq}:${x.status}${phase(x)}/${x.end - x.at}`).join(' ');

  await sleep(3000);
  const beforeKill = sent.length;
  killAt = Date.now();
  // the clients send through the first 3 s of the outage, then stop until the gateway says it is ready again
  const pause = setTimeout(() => (paused = true), 3000);
  await restartBroker(dir, { downMs: 6000 });
  backAt = Date.now();
  clearTimeout(pause);
  paused = true;
  t.diagnostic(`broker killed after ${beforeKill} sends; answering again after ${backAt - killAt} ms`);

  // with no sends at all, the gateway notices by itself that Kafka is back: /readyz turns 200 again
  await until(async () => inFlightNow === 0, SEND_TIMEOUT_MS + 5000, 'the senders to pause');
  const quietFrom = Date.now();
  let readyAlone;
  try {
    readyAlone = await waitReady(url, 35_000);
  } catch (e) {
    readyAlone = e;
  }
  t.diagnostic(`/readyz with no sends since the outage's first 3 s: ${readyAlone instanceof Error ? readyAlone.message : `200 after ${Date.now() - quietFrom} ms of waiting`}`);
  paused = false;

  // sends succeed again without restarting the gateway
  await until(async () => sent.some((x) => x.at > backAt && x.status === 202), 45_000, `a 202 after the broker came back: ${timeline().slice(-2000)}`);
  await waitReady(url, 30_000);
  await sleep(2000);
  stop = true;
  await Promise.all([...loops, prober]);

  // the outage as the gateway saw it: from the kill to the first acknowledgement after it (restartBroker resolves
  // later: its admin client retries with a backoff)
  restoredAt = Math.min(backAt, ...sent.filter((x) => x.status === 202 && x.end > killAt + 500).map((x) => x.end));
  t.diagnostic(`first acknowledgement ${restoredAt - killAt} ms after the kill`);
  const byStatus = {};
  for (const x of sent) byStatus[`${x.status}${phase(x)}`] = (byStatus[`${x.status}${phase(x)}`] ?? 0) + 1;
  t.diagnostic(`sends by status (d: answered during the outage, b: sent after the broker returned): ${JSON.stringify(byStatus)}`);
  if (process.env.KSTREAM_TEST_VERBOSE) t.diagnostic(`seq:status phase/ms: ${timeline()}\ngateway stderr:\n${gw.stderr()}`);

  await t.test('the gateway process lived through it', () => {
    assert.equal(ended(), false, `the gateway exited: ${gw.stderr()}`);
    assert.doesNotMatch(gw.stderr(), /at .*\.js:\d+|Error:|Warning/);
    assert.ok(sent.slice(0, beforeKill).every((x) => x.status === 202), 'a send failed before the broker was killed');
    // after it returned, sends were acknowledged again, to the end
    assert.equal(sent.filter((x) => x.at > backAt).at(-1).status, 202);
  });

  await t.test('no acknowledged record lost: each 202 seq is among its stream\'s results (read over SSE from ?from=-1); duplicates allowed (at-least-once)', async (tt) => {
    const allSent = new Set(sent.map((x) => x.seq));
    for (let s = 0; s < STREAMS; s++) {
      const sub = subscribe(url, ids[s], { query: '?from=-1' });
      const seen = () => new Set(sub.events.map((e) => JSON.parse(e.data).seq));
      try {
        await until(async () => {
          const got = seen();
          return [...acked[s]].every((q) => got.has(q)) || sub.error !== undefined;
        }, 45_000, `stream ${s}'s results to hold its ${acked[s].size} acknowledged records`);
      } catch (e) {
        const got = seen();
        const missing = [...acked[s]].filter((q) => !got.has(q));
        assert.fail(`${e.message}: ${missing.length} acknowledged records missing, e.g. seq ${missing.slice(0, 10).join(', ')} (sub status ${sub.status} ${sub.error ?? ''})`);
      } finally {
        sub.close();
      }
      assert.equal(sub.status, 200, sub.error);
      assert.equal(sub.error, undefined);
      const evs = sub.events;
      // ids are output offsets, strictly increasing within a stream; every result is a record this stream sent
      for (let i = 1; i < evs.length; i++) assert.ok(evs[i].id > evs[i - 1].id, `event ids not increasing: ${evs[i - 1].id} then ${evs[i].id}`);
      for (const e of evs) {
        const v = JSON.parse(e.data);
        assert.equal(v.s, s, `stream ${s} got another stream's record: ${e.data}`);
        assert.ok(allSent.has(v.seq));
      }
      const seqs = evs.map((e) => JSON.parse(e.data).seq);
      const distinct = new Set(seqs).size;
      tt.diagnostic(`stream ${s}: ${acked[s].size} acknowledged, ${seqs.length} results, ${distinct} distinct, ${seqs.length - distinct} duplicates (at-least-once allows them)`);
      assert.ok(acked[s].size > beforeKill / STREAMS / 2);
    }
  });

  await t.test(`while the broker is down a send is 503 with a JSON reason and Retry-After, within ${SEND_TIMEOUT_MS / 1000} s; never another 5xx`, () => {
    const unavailable = sent.filter((x) => x.status === 503);
    const other = sent.filter((x) => x.status !== 202 && x.status !== 503);
    const inOutage = sent.filter((x) => phase(x) === 'd');
    const counts = {};
    for (const x of inOutage) counts[x.status] = (counts[x.status] ?? 0) + 1;
    assert.ok(unavailable.some((x) => phase(x) === 'd'), `no 503 during the outage: its ${inOutage.length} sends were answered ${JSON.stringify(counts)}, after ${Math.min(...inOutage.map((x) => x.end - x.at))}–${Math.max(...inOutage.map((x) => x.end - x.at))} ms`);
    assert.deepEqual(other.map((x) => `seq ${x.seq}: ${x.status} after ${x.end - x.at} ms, ${x.body}`), [], 'sends answered other than 202 or 503 (a request that timed out got no answer)');
    // an answer, 202 or 503, within twice the gateway's producer timeout (5 s): a send does not hang for the outage
    const slow = sent.filter((x) => x.end - x.at > 10_000);
    assert.deepEqual(slow.map((x) => `seq ${x.seq}: ${x.status} after ${x.end - x.at} ms`), [], 'sends answered after more than 10 s');
    for (const x of unavailable) {
      const body = JSON.parse(x.body);
      assert.equal(body.status, 503);
      assert.match(body.error, /^Kafka did not acknowledge the records: /);
      assert.ok(!x.body.includes(KEY));
      assert.equal(x.retryAfter, '1');
    }
  });

  await t.test('/readyz: 503 with a reason during the outage, 200 again by itself once the broker is back (no send needed)', () => {
    const during = probes.filter((p) => p.at > killAt + 1000 && p.at < restoredAt - 500);
    const counts = {};
    for (const p of during) counts[p.status] = (counts[p.status] ?? 0) + 1;
    t.diagnostic(`/readyz during the outage, by status: ${JSON.stringify(counts)}`);
    const notReady = during.filter((p) => p.status === 503);
    assert.ok(notReady.length > 0, `/readyz never 503 while the broker was down (${during.length} probes: ${[...new Set(during.map((p) => p.status))].join(', ')})`);
    for (const p of notReady) {
      const body = JSON.parse(p.body);
      assert.equal(body.ready, false);
      assert.equal(typeof body.reason, 'string');
    }
    assert.ok(!(readyAlone instanceof Error), `after the broker returned, /readyz stayed 503 while no client sent anything: ${readyAlone?.message}`);
  });
});

test('gateway killed with kill -9: another gateway serves the stream, Last-Event-ID resumes with no gap and no duplicate', { timeout: 120_000 }, async (t) => {
  const topic = await prefixWithTopics('kill');
  const a = await serve(topic);
  await waitReady(a.url, 30_000);
  const id = await startStream(a.url);

  // ten records through gateway A, each acknowledged
  for (let seq = 0; seq < 10; seq++) {
    const r = await send(a.url, id, { seq });
    assert.equal(r.status, 202, r.body);
    assert.deepEqual(JSON.parse(r.body), { accepted: 1 });
  }
  const subA = subscribe(a.url, id, { query: '?from=-1' });
  await until(async () => subA.events.length >= 10 || subA.error !== undefined, 30_000, `A's results (${subA.events.length} so far)`);
  assert.equal(subA.retry, 1000);
  const first = subA.events.slice();
  assert.deepEqual(first.map((e) => JSON.parse(e.data)), Array.from({ length: 10 }, (_, seq) => ({ seq })));
  for (let i = 1; i < first.length; i++) assert.ok(first[i].id > first[i - 1].id);
  const lastId = first.at(-1).id;

  // nothing in flight at the kill: the pipeline committed all of the input, so it processes nothing again
  // (a record processed again would be a second result, at a new id: at-least-once, not the resume under test)
  await until(async () => (await committedSum(adm, `${topic}-pipeline`, `${topic}-in`)) >= (await endSum(adm, `${topic}-in`)), 20_000, 'the pipeline to commit its input');

  // the subscriber is still connected to A when A is killed: its connection breaks
  a.gw.kill('SIGKILL');
  const ra = await a.gw.exited;
  assert.equal(ra.signal, 'SIGKILL');
  await subA.done;
  assert.notEqual(subA.error, undefined, 'the results stream of the killed gateway did not break');
  assert.equal(subA.events.length, 10);

  const b = await serve(topic);
  // the same stream id, on a gateway that never saw it: ten more records
  for (let seq = 10; seq < 20; seq++) {
    const r = await send(b.url, id, { seq });
    assert.equal(r.status, 202, r.body);
  }

  // the subscriber resumes on B with its last event id: exactly the ten new results (B's pipeline may first wait
  // for A's dead member to leave the group: its session timeout, 30 s)
  const subB = subscribe(b.url, id, { headers: { 'last-event-id': String(lastId) } });
  // a second subscriber resumes from the middle of A's results: B reads A's results back from Kafka, then its own
  const midB = subscribe(b.url, id, { headers: { 'last-event-id': String(first[4].id) } });
  try {
    await until(async () => (subB.events.length >= 10 && midB.events.length >= 15) || subB.error !== undefined || midB.error !== undefined, 60_000, `B's results (${subB.events.length} and ${midB.events.length} so far)`);
    await sleep(1000); // anything more (a duplicate) would have come by now
  } finally {
    subB.close();
    midB.close();
  }
  assert.equal(subB.status, 200, subB.error);
  assert.equal(midB.status, 200, midB.error);
  assert.deepEqual(subB.events.map((e) => JSON.parse(e.data)), Array.from({ length: 10 }, (_, i) => ({ seq: 10 + i })), 'resumed at the last id: the ten new records, once each, in order');
  assert.ok(subB.events[0].id > lastId);
  for (let i = 1; i < subB.events.length; i++) assert.ok(subB.events[i].id > subB.events[i - 1].id);
  // the mid resume: A's last five results with the same ids A gave them, then B's ten with the ids subB got
  assert.deepEqual(midB.events, [...first.slice(5), ...subB.events]);
  t.diagnostic(`resumed after id ${lastId}: ids ${subB.events.map((e) => e.id).join(',')}`);
  assert.doesNotMatch(b.gw.stderr(), /at .*\.js:\d+|Error:|Warning/);
});

test('serve on fresh topic prefixes starts every time: the topics it creates are used once their leaders serve', { timeout: 90_000 }, async (t) => {
  const failures = [];
  const RUNS = 12;
  for (let i = 0; i < RUNS; i++) {
    const topic = prefix('fresh');
    try {
      const { gw, url } = await serve(topic, 12);
      await waitReady(url, 30_000);
      gw.kill('SIGINT');
      const r = await gw.exited;
      assert.equal(r.code, 130, r.stderr);
    } catch (e) {
      failures.push(e.message.trim());
    }
  }
  t.diagnostic(`${RUNS - failures.length} of ${RUNS} gateways started on fresh topics`);
  assert.deepEqual(failures, []);
});
