// The gateway's live page (`kstream serve`, GET /) in a real headless Chromium, driven by playwright-core, against
// the shared test broker: the page loads, starts a stream with the API key typed in, a record typed in and sent
// comes back through the gateway's --pipeline into the page's results list over SSE, the status says the send was
// accepted, and the metrics figures (records sent/s, mean ack) appear from the gateway's /metrics.
// Debian's chromium (/usr/bin/chromium) is required: without it this file fails, naming the package.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { start } from '../helpers/spawn.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { env, adm, topics, groups } = await itContext();

const KEY = randomBytes(24).toString('hex');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-serve-page-'));
const keysFile = path.join(tmp, 'keys.txt');
fs.writeFileSync(keysFile, `# the page test's key\npage ${KEY}\n`);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `kstream serve` on a free port with its own topics; resolves { gw, url } once it prints where it serves. */
async function serve(extra = []) {
  const prefix = `it-serve-page-${randomUUID().slice(0, 8)}`;
  topics.push(`${prefix}-in`, `${prefix}-out`);
  groups.push(`${prefix}-pipeline`);
  // the topics exist, with leaders, before serve starts (this test is about the page, not serve creating topics)
  await adm.createTopics({ topics: [`${prefix}-in`, `${prefix}-out`].map((topic) => ({ topic, numPartitions: 2 })), waitForLeaders: true });
  for (const topic of [`${prefix}-in`, `${prefix}-out`]) await adm.fetchTopicOffsets(topic);
  const gw = start(['serve', '--api-keys', keysFile, '--port', '0', '--topic', prefix, '--partitions', '2', ...extra], { env, stdin: 'ignore' });
  after(async () => {
    gw.kill('SIGINT');
    const t = setTimeout(() => gw.kill('SIGKILL'), 10_000);
    await gw.exited;
    clearTimeout(t);
  });
  const deadline = Date.now() + 60_000;
  let ended = false;
  gw.exited.then(() => (ended = true));
  for (;;) {
    const m = /kstream: serving at (http:\/\/127\.0\.0\.1:\d+) — topics (\S+) → (.*) → (\S+)\n/.exec(gw.stderr());
    if (m) {
      assert.equal(m[2], `${prefix}-in`);
      assert.equal(m[4], `${prefix}-out`);
      return { gw, url: m[1], stages: m[3] };
    }
    if (ended || Date.now() > deadline) throw new Error(`kstream serve did not start: ${gw.stderr()}`);
    await sleep(50);
  }
}

/** Resolves once GET /readyz is 200 (the pipeline runs); fails with its last reason otherwise. */
async function ready(url, ms = 60_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch((e) => ({ status: 0, text: async () => e.message }));
    last = `${res.status} ${await res.text()}`;
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`/readyz never 200: ${last}`);
    await sleep(200);
  }
}

async function launch() {
  // Debian's chromium is what the page test runs in (.ci/run installs it): missing, the test fails, it is not skipped
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: the page test needs Debian's chromium — apt-get install chromium`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

test('the live page: start a stream, send a record, its result comes back through the pipeline; status and metrics shown', { timeout: 120_000 }, async (t) => {
  const { gw, url, stages } = await serve(['--pipeline', "map '({...r, seen: true})'"]);
  assert.equal(stages, "map '({...r, seen: true})'");
  await ready(url);

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const failedResponses = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  const res = await page.goto(`${url}/`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html/);
  assert.equal(await page.title(), 'kstream serve');
  assert.equal(await page.textContent('#stream'), 'no stream');
  assert.equal(await page.isDisabled('#send'), true, 'Send is disabled until a stream is started');

  // start a stream with the key typed in
  await page.fill('#key', KEY);
  await page.click('#start');
  await page.waitForFunction(() => /^st_/.test(document.getElementById('stream').textContent), null, { timeout: 10_000 });
  const streamId = await page.textContent('#stream');
  assert.match(streamId, /^st_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
  // the results' EventSource is open: Send is enabled and the status says so
  await page.waitForFunction(() => !document.getElementById('send').disabled, null, { timeout: 10_000 });
  assert.equal(await page.textContent('#status'), 'connected');

  // one record typed in and sent: accepted, and back through the pipeline (map adds seen: true) into #results
  const record = { ok: true, msg: 'hello from chromium', n: 42 };
  await page.fill('#record', JSON.stringify(record));
  await page.click('#send');
  await page.waitForFunction(() => /^accepted /.test(document.getElementById('status').textContent), null, { timeout: 15_000 });
  assert.match(await page.textContent('#status'), /^accepted 1 in \d+\.\d ms$/);
  assert.equal(await page.getAttribute('#status', 'class'), '');
  await page.waitForSelector('#results .result', { timeout: 30_000 });
  let results = await page.$$eval('#results .result', (els) => els.map((e) => e.textContent));
  assert.equal(results.length, 1, results.join('\n'));
  const m = /^(\d+) {2}(.*)$/.exec(results[0]);
  assert.ok(m, `a result line is "<event id>  <data>": ${results[0]}`);
  assert.deepEqual(JSON.parse(m[2]), { ...record, seen: true });
  const firstId = Number(m[1]);
  assert.equal(await page.textContent('#n'), '1');
  assert.match(await page.textContent('#lat'), /^\d+\.\d ms$/);

  // an NDJSON body of two lines: accepted 2, both come back after the first, newest on top, ids growing
  await page.fill('#record', '{"k":1}\n{"k":2}');
  await page.click('#send');
  await page.waitForFunction(() => /^accepted 2 /.test(document.getElementById('status').textContent), null, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelectorAll('#results .result').length >= 3, null, { timeout: 30_000 });
  results = await page.$$eval('#results .result', (els) => els.map((e) => e.textContent));
  assert.equal(results.length, 3, results.join('\n'));
  const parsed = results.map((l) => /^(\d+) {2}(.*)$/.exec(l)).map((x) => ({ id: Number(x[1]), data: JSON.parse(x[2]) }));
  assert.deepEqual(parsed.map((r) => r.data), [{ k: 2, seen: true }, { k: 1, seen: true }, { ...record, seen: true }]);
  assert.equal(parsed[2].id, firstId);
  assert.ok(parsed[0].id > parsed[1].id && parsed[1].id > parsed[2].id, `event ids grow: ${parsed.map((r) => r.id)}`);
  assert.equal(await page.textContent('#n'), '3');

  // the metrics figures: the page polls /metrics every 2 s; 3 records were acknowledged
  await page.waitForFunction(() => /^\d+\.\d ms$/.test(document.getElementById('ack').textContent) && /^\d+\.\d$/.test(document.getElementById('rate').textContent), null, { timeout: 10_000 });
  const ack = Number((await page.textContent('#ack')).split(' ')[0]);
  assert.ok(ack > 0 && ack < 5000, `mean ack ${ack} ms`);
  assert.ok(Number(await page.textContent('#rate')) >= 0);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^kstream_gateway_records_sent_total 3$/m);

  // a wrong key: the page says why, as an error
  await page.fill('#key', 'not-the-key-0123456789');
  await page.click('#start');
  await page.waitForFunction(() => /^401: /.test(document.getElementById('status').textContent), null, { timeout: 10_000 });
  assert.equal(await page.textContent('#status'), '401: the API key is not valid');
  assert.equal(await page.getAttribute('#status', 'class'), 'err');

  // the key never shows in the gateway's output
  assert.ok(!gw.stderr().includes(KEY), 'the API key appeared on stderr');
  // the page ran without script errors, and the only failed requests were the wrong key's start and the
  // browser's own favicon request (the page has no icon)
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(failedResponses.filter((r) => r !== '404 /favicon.ico'), ['401 /stream/start']);
});
