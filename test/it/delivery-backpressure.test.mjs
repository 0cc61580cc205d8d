// Backpressure against the real broker: a consumer whose stdout is not read pauses fetching instead of buffering
// the topic: its memory stays bounded while the records wait, and every record arrives once the reader starts.
// (bench/delivery.mjs measures the same with 1M records.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { committedSum, itContext } from '../helpers/broker.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';

const N = 300_000;
const LIMIT_KB = 256 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { env, adm, topics, groups } = await itContext();

function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

test(`a stdout nobody reads pauses consumption: ${N} records wait in Kafka, not in memory (peak RSS < 256 MB)`, { timeout: 120_000 }, async (t) => {
  const topic = `it-bp-${randomUUID().slice(0, 8)}`;
  const group = `it-bp-${randomUUID().slice(0, 8)}`;
  topics.push(topic);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const p = await run(`${KS} gen --preset clicks --count ${N} --seed 4 | ${KS} produce ${topic} --key r.user --quiet`, { env });
  assert.equal(p.code, 0, p.stderr);

  // stdout is left to this test (collect: false): it reads, pauses and counts it itself
  const consumer = start(['consume', topic, '--group', group, '--exit'], { env, stdin: 'ignore', collect: false, group: false });
  const { child } = consumer;
  // the reader takes the first chunk, then sleeps: the pipe fills and stays full
  let lines = 0;
  const count = (d) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
  };
  await new Promise((resolve) => child.stdout.once('data', (d) => resolve(count(d))));
  child.stdout.pause();

  // give the consumer time to fill what it may buffer (a slow machine may still be fetching after 2 s), then watch
  // for growth: a consumer that does not pause keeps fetching the whole topic into memory
  let early = memory(child.pid);
  for (let waited = 0; waited < 15_000; waited += 1000) {
    await sleep(1000);
    const now = memory(child.pid);
    const settled = now.rss - early.rss < 1024;
    early = now;
    if (settled && waited >= 1000) break;
  }
  await sleep(2000);
  const late = memory(child.pid);
  const committed = await committedSum(adm, group, topic);
  t.diagnostic(`waiting: RSS ${early.rss} kB then ${late.rss} kB, peak ${late.hwm} kB; ${committed} of ${N} records committed`);
  assert.ok(late.hwm < LIMIT_KB, `peak RSS ${late.hwm} kB while records wait`);
  assert.ok(late.rss - early.rss < 16 * 1024, `RSS still growing while blocked: ${early.rss} → ${late.rss} kB`);
  assert.ok(committed < N / 4, `${committed} records committed: the consumer ran ahead of its reader`);

  // the reader wakes up: everything arrives, memory stays bounded while it streams through
  let peak = late.hwm;
  const timer = setInterval(() => {
    // an exited child that is not reaped yet still has a status file, without the Vm lines: hwm is NaN then
    try {
      const { hwm } = memory(child.pid);
      if (Number.isFinite(hwm)) peak = Math.max(peak, hwm);
    } catch { /* reaped */ }
  }, 100);
  child.stdout.on('data', count);
  child.stdout.resume();
  const { code, stderr } = await consumer.exited;
  clearInterval(timer);
  assert.equal(code, 0, stderr);
  t.diagnostic(`after the reader woke: ${lines} records in all, peak RSS ${peak} kB`);
  assert.ok(peak < LIMIT_KB, `peak RSS ${peak} kB while draining`);
  assert.equal(lines, N);
});
