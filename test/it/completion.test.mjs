// Shell completion of topic and group names against the real broker at KSTREAM_BROKERS: the generated scripts in
// real shells, their lookups run by the built CLI (`kstream completion --list`), names this file made itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { run } from '../helpers/spawn.mjs';
import { bashComplete, fakeProgram, fishComplete, zshComplete } from '../helpers/completion.mjs';

const T = { timeout: 120_000 };
const ctx = await itContext();
const { env, brokers } = ctx;
const kstream = fakeProgram(false); // the built CLI as `kstream`
const sorted = (a) => [...a].sort();

async function ok(args, input) {
  const r = await run(args, { input, env });
  assert.equal(r.code, 0, `kstream ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Two topics and a group whose names share a prefix no other name has. */
async function fixtures() {
  const tag = randomUUID().slice(0, 4);
  const t1 = await ctx.createTopic(`cpl-${tag}`);
  const t2 = await ctx.createTopic(`cpl-${tag}`);
  const g = ctx.groupName(`cplg-${tag}`);
  await ok(['produce', t1, '--quiet'], '{"n":1}\n');
  await ok(['consume', t1, '--group', g, '--exit', '--quiet']);
  return { topicPrefix: `it-cpl-${tag}-`, groupPrefix: `it-cplg-${tag}-`, topics: sorted([t1, t2]), group: g };
}

test('bash completes the topic and group names the broker has, with the connection options on the line', T, async () => {
  const f = await fixtures();
  const bash = (line, e = env) => bashComplete(line, { prog: kstream.bin, env: e });
  assert.deepEqual(sorted(bash(`kstream consume ${f.topicPrefix}`)), f.topics);
  assert.deepEqual(sorted(bash(`kstream consume ${f.topics[0]} + produce ${f.topicPrefix}`)), f.topics);
  assert.deepEqual(sorted(bash(`kstream topics describe ${f.topicPrefix}`)), f.topics);
  assert.deepEqual(sorted(bash(`kstream topics delete ${f.topicPrefix}`)), f.topics);
  assert.deepEqual(bash(`kstream groups describe ${f.groupPrefix}`), [f.group]);
  assert.deepEqual(bash(`kstream groups reset ${f.groupPrefix}`), [f.group]);
  assert.deepEqual(bash(`kstream consume ${f.topics[0]} --group ${f.groupPrefix}`), [f.group]);
  assert.deepEqual(sorted(bash(`kstream groups describe ${f.group} --topic ${f.topicPrefix}`)), f.topics);
  // bash replaces what follows the last `:`: the names alone
  assert.deepEqual(sorted(bash(`kstream filter 'r.ok' --on-error dlq=kafka:${f.topicPrefix}`)), f.topics);

  // the line's --brokers, with no broker in the environment; and the line's --brokers over the environment's
  const noEnv = { ...env, KSTREAM_BROKERS: undefined, KAFKA_BROKERS: undefined };
  assert.deepEqual(sorted(bash(`kstream consume --brokers ${brokers} ${f.topicPrefix}`, noEnv)), f.topics);
  assert.deepEqual(sorted(bash(`kstream consume ${f.topicPrefix} + filter x --brokers 127.0.0.1:1 + produce --brokers=${brokers} ${f.topicPrefix}`, noEnv)), f.topics);
  assert.deepEqual(bash(`kstream consume --brokers 127.0.0.1:1 ${f.topicPrefix}`), []);
});

test('`completion --list` prints the names one a line, well within its one-second budget', T, async (t) => {
  const f = await fixtures();
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await run(['completion', '--list', 'topics'], { env });
    times.push(performance.now() - t0);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    for (const n of f.topics) assert.ok(r.stdout.split('\n').includes(n), `${n} in ${r.stdout}`);
    assert.ok(!r.stdout.includes('__consumer_offsets'), 'internal topics are left out');
  }
  const g = await run(['completion', '--list', 'groups'], { env });
  assert.ok(g.stdout.split('\n').includes(f.group));
  times.sort((a, b) => a - b);
  t.diagnostic(`completion --list topics wall time: median ${Math.round(times[2])} ms, min ${Math.round(times[0])}, max ${Math.round(times[4])}`);
  assert.ok(times[2] < 1000, `median ${times[2]} ms`);
});

// npm test checks that zsh and fish are installed before it starts (scripts/test.mjs): these never skip
const needs = () => T;

test('zsh completes topic and group names from the broker', needs('zsh'), async () => {
  const f = await fixtures();
  assert.deepEqual(sorted(zshComplete(`kstream consume ${f.topicPrefix}`, { prog: kstream.bin, env })), f.topics);
  assert.deepEqual(zshComplete(`kstream groups describe ${f.groupPrefix}`, { prog: kstream.bin, env }), [f.group]);
});

test('fish completes topic and group names from the broker', needs('fish'), async () => {
  const f = await fixtures();
  const e = { ...env, PATH: `${kstream.dir}:${process.env.PATH}` };
  assert.deepEqual(sorted(fishComplete(`kstream consume ${f.topicPrefix}`, { env: e })), f.topics);
  assert.deepEqual(fishComplete(`kstream consume ${f.topics[0]} --group ${f.groupPrefix}`, { env: e }), [f.group]);
});
