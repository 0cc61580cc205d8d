// aggregate/functions/median.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median } from '../../dist/src/operators/aggregate/functions/median.js';
import { feed, call } from './helpers.mjs';

import { percentile } from '../../dist/src/operators/aggregate/functions/percentile.js';

test('median: the 50th percentile, as p50 gives it', () => {
  assert.equal(feed(median, [1, 2, 3, 4]).result, 2);
  assert.equal(feed(median, [7]).result, 7);
  assert.equal(feed(median, []).result, null);
  const vals = Array.from({ length: 1000 }, (_, i) => (i * 37) % 501);
  assert.equal(feed(median, vals).result, feed(percentile, vals, 50).result);
  assert.equal(median.state('r.x'), percentile.state('r.x'), 'one histogram for median and pNN of one field');
  assert.deepEqual(call(median, 'median(r.ms)'), { arg: 'r.ms', param: 50 });
  assert.throws(() => call(median, 'median'), /takes one argument/);
});
