// Changelog-backed state: a group's stateful stages checkpoint into <group>-kstream-state and restore on restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { KS, lines, runSync, start } from '../helpers/spawn.mjs';

const { env, adm } = await itContext();
const k = (args, input = '') => runSync(args, input, { env, timeout: 60_000 });
const ndjson = (rows) => rows.map((r) => JSON.stringify(r) + '\n').join('');

test('dedupe state survives a restart through the group changelog', { timeout: 120_000 }, () => {
  const topic = `state-${process.pid}-${Date.now()}`;
  const group = `g-${topic}`;
  assert.equal(k(['produce', topic, '--create'], ndjson([{ id: 1, t: 1000 }, { id: 2, t: 1001 }, { id: 1, t: 1002 }])).code, 0);
  const run = () => k(['consume', topic, '--group', group, '--exit', '+', 'dedupe', '--by', 'r.id', '--within', '1m', '--time', 'r.t']);
  const first = run();
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(lines(first.stdout), [{ id: 1, t: 1000 }, { id: 2, t: 1001 }]);
  assert.match(first.stderr, /dedupe: duplicates=1/);

  // New records; id 1 was seen 3 ms earlier in event time by the previous process: still a duplicate.
  assert.equal(k(['produce', topic], ndjson([{ id: 1, t: 1003 }, { id: 3, t: 1004 }])).code, 0);
  const second = run();
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(lines(second.stdout), [{ id: 3, t: 1004 }]);

  // The changelog holds the live entries under the stage's prefix.
  const log = k(['consume', `${group}-kstream-state`, '--offset', 'start', '--exit', '--format', 'envelope']);
  const keys = new Set(lines(log.stdout).map((e) => e.key));
  for (const key of keys) assert.match(key, /^(0\/dedupe\/|\$pos\/)/);
  assert.ok(keys.size >= 3);

  k(['topics', 'delete', topic, `${group}-kstream-state`]);
});

test('--state-topic needs a group', () => {
  const r = k(['consume', 'whatever', '--state-topic', 's', '+', 'dedupe', '--by', 'r.id', '--within', '1s']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /`--state-topic` needs a group/);
});

test('SIGTERM keeps open windows in the changelog instead of flushing them early; the restarted run closes them', { timeout: 120_000 }, async () => {
  const id = `term-${Date.now()}-${process.pid}`;
  const [input, output, group] = [`it-st-in-${id}`, `it-st-out-${id}`, `it-st-${id}`];
  const rows = (from, n) => Array.from({ length: n }, (_, i) => ({ ts: from + i * 100, page: i % 2 ? '/a' : '/b', v: i }));
  const stages = `window tumbling 10s --time r.ts + aggregate count 'sum(r.v)' --by r.page`;
  assert.equal(k(['produce', input, '--create'], ndjson(rows(0, 50))).code, 0);
  // first run: no --exit, stopped by SIGTERM once it has consumed everything (its state holds the open window)
  const first = start(`exec ${KS} consume ${input} --group ${group} + ${stages} + produce ${output} --create --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
  // SIGTERM only once the group has committed all 50: a stop before that would test something else, so a run that
  // never gets there fails here, saying so, instead of being stopped anyway
  const deadline = Date.now() + 30_000;
  let committed;
  for (;;) {
    const offs = await adm.fetchOffsets({ groupId: group, topics: [input] }).catch(() => []);
    committed = Number(offs[0]?.partitions[0]?.offset);
    if (committed === 50) break;
    if (Date.now() > deadline) {
      first.kill('SIGKILL');
      const r = await first.exited;
      assert.fail(`the first run had not committed offset 50 of ${input} after 30 s (committed: ${committed}); its stderr: ${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  first.kill('SIGTERM');
  const r1 = await first.exited;
  assert.equal(r1.code, 130, r1.stderr);
  // nothing closed yet (all 50 records are in [0, 10s)): nothing was flushed early
  assert.deepEqual(lines(k(['consume', output, '--exit']).stdout), []);
  // more records close the first window; the restarted run counts the first run's records in it
  assert.equal(k(['produce', input], ndjson(rows(10_000, 20))).code, 0);
  const second = k(['consume', input, '--group', group, '--exit', '+', ...['window', 'tumbling', '10s', '--time', 'r.ts', '+', 'aggregate', 'count', 'sum(r.v)', '--by', 'r.page']]);
  assert.equal(second.code, 0, second.stderr);
  const got = lines(second.stdout).filter((o) => o.window);
  assert.deepEqual(got, [
    { key: '/a', window: { start: 0, end: 10000 }, count: 25, sum_v: 625, emit: 'final' },
    { key: '/b', window: { start: 0, end: 10000 }, count: 25, sum_v: 600, emit: 'final' },
    { key: '/a', window: { start: 10000, end: 20000 }, count: 10, sum_v: 100, emit: 'final' },
    { key: '/b', window: { start: 10000, end: 20000 }, count: 10, sum_v: 90, emit: 'final' },
  ]);
  // the same group with a different pipeline refuses to restore state that is not its own
  const other = k(['consume', input, '--group', group, '--exit', '+', 'dedupe', '--by', 'r.v', '--within', '1m']);
  assert.equal(other.code, 1, other.stderr);
  assert.match(other.stderr, /state topic `.*-kstream-state` holds state of another pipeline \(`0\/window`\).*use a new --group or --state-topic/);
  assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
  k(['topics', 'delete', input, output, `${group}-kstream-state`]);
});
