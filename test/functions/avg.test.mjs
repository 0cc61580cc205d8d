// aggregate/functions/avg.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avg } from '../../dist/src/operators/aggregate/functions/avg.js';
import { feed, call } from './helpers.mjs';

test('avg: the mean, null for an empty group', () => {
  assert.equal(feed(avg, [4, 2, 6]).result, 4);
  assert.equal(feed(avg, []).result, null);
  const a = feed(avg, [1, 2]).s;
  const b = feed(avg, [3]).s;
  assert.equal(avg.result(avg.merge(avg.clone(a), b)), 2);
  assert.deepEqual(a, { sum: 3, n: 2 }, 'clone: the merge left a alone');
  assert.deepEqual(avg.fromJson(avg.toJson(a)), a);
});
