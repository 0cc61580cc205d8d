// consume --regex: every topic whose whole name matches, found at start, against the real broker at KSTREAM_BROKERS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';

const T = { timeout: 90_000 };
const ctx = await itContext();
const { ks, ok } = ctx;

test('--regex reads every topic whose whole name matches, with the topics named; a near name is not taken', T, async () => {
  const base = ctx.name('rx');
  const [a, b, near] = [`${base}-a`, `${base}-b`, `${base}-a-dead`];
  await ok(['produce', a, '--create'], { input: '{"n":1}\n{"n":2}\n' });
  await ok(['produce', b, '--create', '--partitions', '2', '--key', 'r.n'], { input: '{"n":3}\n{"n":4}\n{"n":5}\n' });
  await ok(['produce', near, '--create'], { input: '{"n":99}\n' });

  const r = await ok(['consume', '--regex', `${base}-[ab]`, '--exit']);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l).n).sort(), [1, 2, 3, 4, 5]);
  assert.equal(r.stderr, `kstream: --regex \`${base}-[ab]\` matches 2 topics: ${a}, ${b}\n`);

  // a topic named outright is read beside the matches; envelopes say where each record came from
  const env = await ok(['consume', near, '--regex', `${base}-a`, '--exit', '--format', 'envelope', '-q']);
  const topics = env.stdout.trim().split('\n').map((l) => JSON.parse(l).topic).sort();
  assert.deepEqual(topics, [a, a, near]);

  // in a group: the partitions of all matched topics are assigned and committed
  const g = ctx.name('rxg');
  await ok(['consume', '--regex', `${base}-[ab]`, '--group', g, '--exit', '-q']);
  const lag = JSON.parse((await ok(['groups', 'describe', g, '--json'])).stdout);
  const rows = lag.partitions;
  assert.deepEqual(rows.map((p) => `${p.topic}/${p.partition}`).sort(), [`${a}/0`, `${b}/0`, `${b}/1`]);
  assert.equal(rows.find((p) => p.topic === a).committed, 2);
  assert.equal(rows.filter((p) => p.topic === b).reduce((s, p) => s + p.committed, 0), 3);
  assert.equal(lag.lag, 0);
});

test('--regex: no match, a bad pattern and an empty one are one line each', T, async () => {
  const none = await ks(['consume', '--regex', 'no-such-topic-[0-9]+', '--exit']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^kstream: no topic matches --regex `no-such-topic-\[0-9\]\+` \(of the \d+ on the brokers\) — the pattern must match a whole topic name/);
  assert.equal(none.stderr.trim().split('\n').length, 1);

  const bad = await ks(['consume', '--regex', 'clicks-(', '--exit']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /^kstream: invalid --regex `clicks-\(`: .+ — use a JavaScript regular expression/);
});

test('--regex never reads what the run itself writes: a fused produce into a matching topic is left out and named', T, async () => {
  const base = ctx.name('rxown');
  const [src, out] = [`${base}-src`, `${base}-out`];
  await ok(['produce', src, '--create', '-q'], { input: '{"n":1}\n{"n":2}\n{"n":3}\n' });
  // run twice: before, the second run matched its own output topic and copied the first run's copies again
  for (let i = 0; i < 2; i++) {
    const r = await ok(['consume', '--regex', `${base}-.*`, '--exit', '+', 'produce', out, '--create', '-q']);
    if (i === 1) assert.equal(r.stderr, `kstream: --regex \`${base}-.*\` matches 1 topic: ${src} (not ${out}, which this run writes)\n`);
  }
  const copied = (await ok(['consume', out, '--exit', '-q'])).stdout.trim().split('\n');
  assert.equal(copied.length, 6, copied.join('\n'));
  // --quiet leaves the informational line out
  assert.equal((await ok(['consume', '--regex', `${base}-src`, '--exit', '-q'])).stderr, '');
});
