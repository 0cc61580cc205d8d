// aggregate/functions/sum.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum } from '../../dist/src/operators/aggregate/functions/sum.js';
import { feed, call } from './helpers.mjs';

test('sum: adds, merges, round-trips', () => {
  assert.equal(feed(sum, [1, 2.5, -4]).result, -0.5);
  assert.equal(feed(sum, []).result, 0);
  assert.equal(sum.merge(1, 2), 3);
  assert.throws(() => call(sum, 'sum'), /takes one argument/);
  assert.equal(sum.fromJson(null), 0);
});
