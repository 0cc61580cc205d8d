// `kstream top` against a running job: a filter with --metrics fed through a pipe, watched while it is fed (rates,
// latency) and once idle (its totals equal what the job itself serves); a target nobody listens on; bad arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { run, runSync, start } from './helpers/spawn.mjs';
import { metricsUrl, scrape, valueOf } from './helpers/prometheus.mjs';

const countLines = (s) => s.split('\n').length - 1;

/** A port nothing listens on: one the system gave out and that was closed again. */
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test('top --once --json on a job being fed: up, records/s > 0, latency from the records\' timestamps; idle, its totals are the job\'s', { timeout: 90_000 }, async () => {
  // envelopes carry a timestamp: each record is 200 ms old when fed, so its end-to-end latency is at least that
  const p = start(['filter', 'true', '--envelope', '--metrics', '127.0.0.1:0'], { stdin: 'pipe' });
  let fed = 0;
  const feed = (n) => {
    let s = '';
    for (let i = 0; i < n; i++, fed++) s += JSON.stringify({ topic: 't', partition: 0, offset: fed, timestamp: Date.now() - 200, key: null, value: { n: fed } }) + '\n';
    p.child.stdin.write(s);
  };
  let timer;
  try {
    const url = await metricsUrl(p);
    const addr = new URL(url).host;
    feed(100);
    await p.waitFor((s) => countLines(s) === 100);
    timer = setInterval(() => feed(20), 20);
    const live = await run(['top', addr, '--once', '--json', '--interval', '300ms']);
    clearInterval(timer);
    timer = undefined;
    assert.equal(live.code, 0, live.stderr);
    const rows = live.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.equal(row.status, 'up');
    assert.equal(row.target, addr);
    assert.equal(row.url, url);
    assert.ok(row.records_in_per_s > 0, `records in/s ${row.records_in_per_s}`);
    assert.ok(row.records_out_per_s > 0, `records out/s ${row.records_out_per_s}`);
    assert.ok(row.records_in >= 100 && row.records_in <= fed, `records in ${row.records_in} of ${fed} fed`);
    assert.ok(row.latency_p50_s >= 0.1 && row.latency_p50_s < 10, `p50 ${row.latency_p50_s}`);
    assert.ok(row.latency_p99_s >= row.latency_p50_s, `p99 ${row.latency_p99_s}`);
    assert.equal(row.errors, 0);
    assert.equal(row.dropped, 0);
    assert.ok(row.rss_bytes > 1e6, `rss ${row.rss_bytes}`);
    assert.equal(typeof row.cpu_percent, 'number');
    assert.equal(row.lag_records, null, 'stdin has no consumer lag');

    // fed no more: once the job wrote everything, top's totals are what the job serves, and nothing moves
    await p.waitFor((s) => countLines(s) === fed);
    const idle = await run(['top', addr, '--once', '--json', '--interval', '300ms']);
    assert.equal(idle.code, 0, idle.stderr);
    const m = await scrape(url);
    const still = JSON.parse(idle.stdout);
    assert.equal(valueOf(m, 'kstream_records_in_total'), fed);
    assert.equal(still.records_in, fed);
    assert.equal(still.records_out, valueOf(m, 'kstream_records_out_total'));
    assert.equal(still.records_in_per_s, 0);
    assert.equal(still.latency_p50_s, null, 'no record written in the interval');

    // the table: one row for the job, the rate columns filled
    const table = await run(['top', addr, '--once', '--interval', '200ms']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ target +│ +in\/s │ +out\/s │ +in │ +lag │ +lag s │ +p50 │ +p99 │ +errors │ +dropped │ +cpu │ +rss │/);
    assert.match(table.stdout, new RegExp(`│ ${addr.replace(/\./g, '\\.')} +│ +0 │ +0 │ +${fed.toLocaleString('en-US')} │`));
  } finally {
    if (timer) clearInterval(timer);
    p.child.stdin.end();
  }
  assert.equal((await p.exited).code, 0);
});

test('a target nobody listens on is down, with the reason; --once exits 1 when every target is down', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const r = runSync(['top', `127.0.0.1:${port}`, `:${port}`, '--once', '--json', '--interval', '100ms']);
  assert.equal(r.code, 1);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => [x.target, x.status, x.reason, x.records_in]), [
    [`127.0.0.1:${port}`, 'down', 'connection refused', null],
    [`:${port}`, 'down', 'connection refused', null],
  ]);
  assert.equal(r.stderr, `kstream: 127.0.0.1:${port} is down: connection refused\nkstream: :${port} is down: connection refused\n`);
  const table = runSync(['top', `:${port}`, '--once', '--interval', '100ms']);
  assert.equal(table.code, 1);
  assert.match(table.stdout, new RegExp(`│ :${port} +│ down: connection refused +│`));
  // a reader that goes away ends the view quietly, exit 0, as it ends a pipeline
  const head = runSync(`$KS top :${port} --json --count 100 --interval 50ms | head -1; echo "exit \${PIPESTATUS[0]}" >&2`, { shell: 'bash' });
  assert.equal(JSON.parse(head.stdout).status, 'down');
  assert.equal(head.stderr, 'exit 0\n');
});

test('bad targets and no target are usage errors (exit 2, one line naming the argument)', () => {
  const bad = runSync(['top', ':9464', '9464']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, "kstream: invalid target `9464` — use host:port, :port (127.0.0.1) or http://host:port/metrics (a job's --metrics address)\n");
  const none = runSync(['top']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^kstream: `top` needs a target: the address of a job started with --metrics — use host:port, :port \(127\.0\.0\.1\) or http:\/\/host:port\/metrics .*\n$/);
  assert.equal(countLines(none.stderr), 1);
  const interval = runSync(['top', ':9464', '--interval', '0']);
  assert.equal(interval.code, 2);
  assert.match(interval.stderr, /^kstream: invalid --interval/);
});
