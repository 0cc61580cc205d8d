// `--metrics <host:port>`: a running job's /metrics, scraped while it runs, counts what it was given and wrote;
// the server neither keeps a finished run alive nor turns a taken port into a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runSync, start } from './helpers/spawn.mjs';
import { metricsUrl, scrape, valueOf } from './helpers/prometheus.mjs';

const lines = (from, to) => Array.from({ length: to - from }, (_, i) => JSON.stringify({ n: from + i, s: 'é' }) + '\n').join('');
const countLines = (s) => s.split('\n').length - 1;

test('a filter fed through a pipe: records and bytes in and out, stage times, as scraped between inputs', { timeout: 60_000 }, async () => {
  const p = start(['filter', 'r.n % 2 == 0', '--metrics', '127.0.0.1:0'], { stdin: 'pipe' });
  try {
    const url = await metricsUrl(p);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // nothing sent yet: the counters exist and are zero
    let m = await scrape(url);
    assert.equal(valueOf(m, 'kstream_records_in_total'), 0);
    assert.equal(m.type.get('kstream_records_in_total'), 'counter');
    assert.ok(valueOf(m, 'process_start_time_seconds') > Date.now() / 1000 - 120, 'process start time is recent');

    // feeds lines [from, to); once half of them (the even n) are out, the batches that made them were counted
    // (counters move before the sink writes): everything sent so far is in, everything written is out
    let sent = 0;
    const feed = async (from, to) => {
      const text = lines(from, to);
      sent += Buffer.byteLength(text);
      p.child.stdin.write(text);
      await p.waitFor((s) => countLines(s) === to / 2);
      const m = await scrape(url);
      assert.deepEqual(
        ['kstream_records_in_total', 'kstream_records_out_total', 'kstream_bytes_in_total', 'kstream_bytes_out_total'].map((n) => valueOf(m, n)),
        [to, to / 2, sent, p.stdoutBuffer().length],
      );
      return m;
    };
    m = await feed(0, 1000);
    const batches = valueOf(m, 'kstream_stage_batch_seconds_count', { stage: '0:filter' });
    assert.ok(batches >= 1, `stage batches: ${batches}`);
    assert.equal(valueOf(m, 'kstream_stage_batch_seconds_bucket', { stage: '0:filter', le: '+Inf' }), batches);
    assert.equal(m.type.get('kstream_stage_batch_seconds'), 'histogram');
    assert.equal(valueOf(m, 'kstream_records_dropped_total', { reason: 'skipped' }), 0);

    m = await feed(1000, 1500);
    assert.ok(valueOf(m, 'kstream_stage_batch_seconds_count', { stage: '0:filter' }) > batches);

    const res404 = await fetch(url.replace(/\/metrics$/, '/'));
    assert.equal(res404.status, 404);
    await res404.text();
  } finally {
    p.child.stdin.end();
  }
  // the open keep-alive connection of fetch does not keep the finished run alive
  const t0 = Date.now();
  const r = await p.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t0 < 10_000, `exited ${Date.now() - t0} ms after its input ended`);
});

/** Runs `args` with --metrics, feeds `input`, scrapes once `out` lines are written, ends the input: the scrape. */
async function scrapedAfter(args, input, out) {
  const p = start([...args, '--metrics', '127.0.0.1:0'], { stdin: 'pipe' });
  let m;
  try {
    const url = await metricsUrl(p);
    p.child.stdin.write(input);
    await p.waitFor((s) => countLines(s) === out);
    m = await scrape(url);
  } finally {
    p.child.stdin.end();
  }
  const r = await p.exited;
  assert.equal(r.code, 0, r.stderr);
  return m;
}

test('bad records are counted as dropped and as errors under --on-error skip', { timeout: 60_000 }, async () => {
  const m = await scrapedAfter(['filter', 'r.n > 1', '--on-error', 'skip'], '{"n":1}\nnope\n{"n":2}\n{"n":"x"}\n{"n":3}\n', 2);
  assert.equal(valueOf(m, 'kstream_records_in_total'), 4);
  assert.equal(valueOf(m, 'kstream_records_out_total'), 2);
  assert.equal(valueOf(m, 'kstream_records_dropped_total', { reason: 'skipped' }), 1);
  assert.equal(valueOf(m, 'kstream_errors_total'), 1);
});

test('fused windows: open windows and state entries of each stage', { timeout: 60_000 }, async () => {
  const p = start(['map', '{...r}', '+', 'window', 'tumbling', '1m', '--time', 'r.ts', '+', 'aggregate', 'count', '--by', 'r.k', '--metrics', ':0'], { stdin: 'pipe' });
  try {
    const url = await metricsUrl(p);
    // two keys in the first minute; the record of the next minute closes it
    p.child.stdin.write('{"ts":1000,"k":"a"}\n{"ts":2000,"k":"b"}\n{"ts":3000,"k":"a"}\n{"ts":61000,"k":"c"}\n');
    await p.waitFor((s) => countLines(s.replace(/.*\$kstream.*\n/g, '')) === 2);
    const m = await scrape(url);
    assert.equal(valueOf(m, 'kstream_windows_open', { stage: '1:window' }), 1);
    assert.equal(valueOf(m, 'kstream_state_entries', { stage: '2:aggregate' }), 1, 'only key c of the open minute is held');
    assert.equal(valueOf(m, 'kstream_records_in_total'), 4);
    for (const stage of ['0:map', '1:window', '2:aggregate']) assert.ok(valueOf(m, 'kstream_stage_batch_seconds_count', { stage }) >= 1, stage);
  } finally {
    p.child.stdin.end();
  }
  assert.equal((await p.exited).code, 0);
});

test('a taken port: one readable line on stderr, exit 1, no stack; a bad address is a usage error', async () => {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  try {
    const r = runSync(['gen', '--count', '10', '--metrics', `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `kstream: --metrics 127.0.0.1:${port}: the address is in use — pick another port, or :0 for a free one\n`);
  } finally {
    server.close();
  }
  const bad = runSync(['gen', '--count', '1', '--metrics', '9464']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^kstream: invalid --metrics `9464` — use host:port/);
  const two = runSync(['gen', '--count', '1', '--metrics', ':0', '+', 'filter', 'true', '--metrics', ':1']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /one run serves one --metrics address/);
});

test('a run that ends by itself exits with the server open', { timeout: 30_000 }, () => {
  const t0 = Date.now();
  const r = runSync(['gen', '--count', '1000', '--metrics', '127.0.0.1:0'], { timeout: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(countLines(r.stdout), 1000);
  assert.match(r.stderr, /^kstream: metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
  assert.ok(Date.now() - t0 < 15_000);
});

test('control lines are not records: watermarks in the input count neither in nor out, dropped or not', { timeout: 60_000 }, async () => {
  const m = await scrapedAfter(['filter', 'true', '--no-watermarks'], '{"n":1}\n{"$kstream":{"watermark":1000}}\n{"n":2}\n{"$kstream":{"watermark":2000}}\n', 2);
  assert.equal(valueOf(m, 'kstream_records_in_total'), 2);
  assert.equal(valueOf(m, 'kstream_records_out_total'), 2);
});

test('a join: matches counted, records without a row dropped by reason, table rows as state entries', { timeout: 60_000 }, async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-metrics-join-'));
  const table = path.join(dir, 't.ndjson');
  fs.writeFileSync(table, '{"key":"a","value":1}\n{"key":"b","value":2}\n');
  const m = await scrapedAfter(['join', `file:${table}`, '--on', 'r.k'], '{"k":"a"}\n{"k":"x"}\n{"k":"b"}\n{}\n{"k":"a"}\n', 3);
  assert.equal(valueOf(m, 'kstream_join_matches_total', { stage: '0:join' }), 3);
  assert.equal(valueOf(m, 'kstream_records_dropped_total', { reason: 'no-match' }), 1);
  assert.equal(valueOf(m, 'kstream_records_dropped_total', { reason: 'no-key' }), 1);
  assert.equal(valueOf(m, 'kstream_state_entries', { stage: '0:join' }), 2);
  fs.rmSync(dir, { recursive: true });
});

test('a stream–stream join: pairs counted as matches, late records dropped by reason, held records as state entries', { timeout: 60_000 }, async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-metrics-ssjoin-'));
  const side = path.join(dir, 'pay.ndjson');
  fs.writeFileSync(side, '{"id":"k","t":15}\n{"id":"k","t":21}\n');
  const p = start(['join', `stream:file:${side}`, '--right-on', 'r.id', '--side-time', 'r.t', '--on', 'r.id', '--time', 'r.t', '--within', '10ms', '--metrics', '127.0.0.1:0'], { stdin: 'pipe' });
  try {
    const url = await metricsUrl(p);
    // 10 pairs with 15; 30 with 21 (its window 20..40); 5 comes when stream time is 30: late
    p.child.stdin.write('{"id":"k","t":10}\n{"id":"k","t":30}\n{"id":"k","t":5}\n');
    await p.waitFor((s) => countLines(s) === 2);
    let m;
    for (let i = 0; i < 50; i++) {
      m = await scrape(url);
      if (valueOf(m, 'kstream_records_dropped_total', { reason: 'late' }) === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(valueOf(m, 'kstream_join_matches_total', { stage: '0:join' }), 2);
    assert.equal(valueOf(m, 'kstream_records_dropped_total', { reason: 'late' }), 1);
    // held: 21 (until the watermark passes 31) and 30 (until it passes 40); 10 and 15 are released
    assert.equal(valueOf(m, 'kstream_state_entries', { stage: '0:join' }), 2);
  } finally {
    p.child.stdin.end();
  }
  assert.equal((await p.exited).code, 0);
  fs.rmSync(dir, { recursive: true });
});
