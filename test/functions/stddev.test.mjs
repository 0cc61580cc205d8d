// aggregate/functions/stddev.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stddev } from '../../dist/src/operators/aggregate/functions/stddev.js';
import { feed, call } from './helpers.mjs';

test('stddev: population standard deviation, exact merges', () => {
  assert.equal(feed(stddev, [2, 4, 4, 4, 5, 5, 7, 9]).result, 2);
  assert.equal(feed(stddev, []).result, null);
  const m = stddev.merge(feed(stddev, [2, 4, 4, 4]).s, feed(stddev, [5, 5, 7, 9]).s);
  assert.ok(Math.abs(stddev.result(m) - 2) < 1e-12);
});
