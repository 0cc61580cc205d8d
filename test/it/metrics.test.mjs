// /metrics of a consuming job against the real broker: consumer lag per partition while records wait (held back
// by a reader that does not read), falling to 0 once the job caught up, and record counters equal to what the
// topic held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { KS, start } from '../helpers/spawn.mjs';
import { metricsUrl, scrape, valueOf } from '../helpers/prometheus.mjs';

const ctx = await itContext();
const { env, ok } = ctx;

const PER_PARTITION = 20_000;
const PARTITIONS = 3;
const N = PER_PARTITION * PARTITIONS;

/** Scrapes until `done(parsed)`; returns the last scrape. */
async function until(url, done, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  let m;
  for (;;) {
    m = await scrape(url);
    if (done(m)) return m;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last scrape:\n${m.samples.filter((s) => s.name.startsWith('kstream_')).map((s) => `${s.name} ${JSON.stringify(s.labels)} ${s.value}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const lagOf = (m, t) => Array.from({ length: PARTITIONS }, (_, p) => valueOf(m, 'kstream_consumer_lag_records', { topic: t, partition: String(p) }));

test('consume --group --metrics: lag per partition while the reader holds back, 0 once caught up; counters equal the records', { timeout: 180_000 }, async () => {
  const t = await ctx.createTopic('metrics', PARTITIONS);
  const g = ctx.groupName('metrics');
  const pad = 'x'.repeat(80);
  for (let p = 0; p < PARTITIONS; p++) {
    const input = Array.from({ length: PER_PARTITION }, (_, i) => JSON.stringify({ p, i, pad }) + '\n').join('');
    await ok(['produce', t, '--partition', String(p), '--quiet'], { input });
  }
  // nobody reads its stdout yet: the pipe fills and the job waits, with records left in the topic
  const c = start(['consume', t, '--group', g, '--metrics', '127.0.0.1:0'], { env, collect: false });
  try {
    const url = await metricsUrl(c);
    let m = await until(url, (m) => lagOf(m, t).every((v) => v !== undefined) && valueOf(m, 'kstream_records_in_total') > 0, 'lag of every partition');
    const held = lagOf(m, t);
    const inSoFar = valueOf(m, 'kstream_records_in_total');
    assert.ok(inSoFar < N, `records in while held back: ${inSoFar}`);
    assert.ok(held.reduce((a, b) => a + b, 0) > 0, `lag while held back: ${held}`);
    for (const v of held) assert.ok(v >= 0 && v <= PER_PARTITION, `lag ${v}`);
    // every record is either taken by the pipeline or waiting (fetched and queued counts as waiting)
    assert.equal(held.reduce((a, b) => a + b, 0), N - inSoFar, `lag ${held} against ${N - inSoFar} not taken`);
    assert.equal(m.type.get('kstream_consumer_lag_records'), 'gauge');
    for (let p = 0; p < PARTITIONS; p++) {
      const s = valueOf(m, 'kstream_consumer_lag_seconds', { topic: t, partition: String(p) });
      if (held[p] === 0) assert.equal(s, 0);
      else if (s !== undefined) assert.ok(s >= 0 && s < 600, `lag seconds ${s}`);
    }

    // now read: the job catches up
    let lines = 0;
    c.child.stdout.on('data', (d) => {
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    m = await until(url, (m) => lagOf(m, t).every((v) => v === 0) && valueOf(m, 'kstream_records_in_total') === N, 'caught up');
    assert.equal(valueOf(m, 'kstream_records_out_total'), N);
    for (let p = 0; p < PARTITIONS; p++) assert.equal(valueOf(m, 'kstream_consumer_lag_seconds', { topic: t, partition: String(p) }), 0);
    assert.ok(valueOf(m, 'kstream_end_to_end_latency_seconds_count') >= 1, 'Kafka records carry a timestamp: latency is sampled');
    assert.equal(valueOf(m, 'kstream_reconnects_total'), 0);

    // records that arrive later are counted, and the lag falls back to 0
    await ok(['produce', t, '--partition', '1', '--quiet'], { input: '{"late":1}\n{"late":2}\n' });
    m = await until(url, (m) => valueOf(m, 'kstream_records_in_total') === N + 2 && lagOf(m, t).every((v) => v === 0), 'two more records');
    assert.equal(valueOf(m, 'kstream_records_out_total'), N + 2);
    const deadline = Date.now() + 20_000;
    while (lines < N + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(lines, N + 2);
  } finally {
    c.kill('SIGTERM');
  }
  const r = await c.exited;
  assert.equal(r.code, 130, r.stderr);
});

test('a stateful job restarted from its changelog says how long the restore took, on stderr and in /metrics', { timeout: 120_000 }, async () => {
  const input = await ctx.createTopic('restore-in', 2);
  const group = ctx.groupName('restore');
  ctx.topics.push(`${group}-kstream-state`, `${group}-aggregate-repartition`);
  await ok(`${KS} gen --preset clicks --count 5000 --seed 2 | ${KS} produce ${input} --key r.user --quiet`);
  const job = `${KS} consume ${input} --group ${group} + aggregate count --by r.page`;
  // the first run builds the state and stops with it checkpointed
  const first = start(`exec ${job} --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
  await new Promise((r) => setTimeout(r, 4000));
  first.kill('SIGTERM');
  assert.equal((await first.exited).code, 130);
  const p = start(`exec ${job} --metrics 127.0.0.1:0`, { env, stdin: 'ignore', stdout: 'ignore' });
  try {
    const url = await metricsUrl(p);
    let m;
    for (let i = 0; i < 100; i++) {
      m = await scrape(url);
      if (valueOf(m, 'kstream_state_restore_done') === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(valueOf(m, 'kstream_state_restore_done'), 1);
    assert.ok(valueOf(m, 'kstream_state_restore_records') > 0);
    assert.ok(valueOf(m, 'kstream_state_restore_seconds') >= 0);
    await p.waitFor(() => /state: took/.test(p.stderr()), 10_000);
    // (by page over a topic keyed by user: through a repartition topic of 2 partitions, one task each)
    assert.match(p.stderr(), /kstream: state: took tasks 0, 1: restored \d+ entries of `aggregate` from `it-restore-[^`]+-kstream-state` \([\d,]+ records read\) in \d+\.\d\d s\n/);
  } finally {
    p.kill('SIGTERM');
    await p.exited;
  }
});
