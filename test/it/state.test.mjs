// Changelog-backed state: a group's stateful stages checkpoint into <group>-kstream-state and restore on restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kstream, lines } from '../helpers/cli.mjs';

const env = { KSTREAM_BROKERS: process.env.KSTREAM_BROKERS };
const k = (args, input = '') => kstream(args, input, { env, timeout: 60_000 });
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
  for (const key of keys) assert.match(key, /^0\/dedupe\//);
  assert.ok(keys.size >= 3);

  k(['topics', 'delete', topic, `${group}-kstream-state`]);
});

test('--state-topic needs a group', () => {
  const r = k(['consume', 'whatever', '--state-topic', 's', '+', 'dedupe', '--by', 'r.id', '--within', '1s']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /`--state-topic` needs a group/);
});
