// aggregate/functions/percentile.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile } from '../../dist/src/operators/aggregate/functions/percentile.js';
import { feed, call } from './helpers.mjs';

import { HDR_EXACT_LIMIT } from '../../dist/src/operators/aggregate/functions/percentile.js';

test('pNN: SEMANTICS example 12 — p50 of 1..4 is 2, p99 of 1..100 is 99', () => {
  assert.equal(feed(percentile, [1, 2, 3, 4], 50).result, 2);
  assert.equal(feed(percentile, Array.from({ length: 100 }, (_, i) => i + 1), 99).result, 99);
  assert.equal(percentile.match('p99.9'), 99.9);
  assert.equal(percentile.match('pp'), undefined);
  assert.deepEqual(call(percentile, 'p99(r.ms)', 99), { arg: 'r.ms', param: 99 });
  assert.throws(() => call(percentile, 'p101(r.ms)', 101), /between 0 and 100/);
  assert.equal(feed(percentile, [], 50).result, null);
});

test('pNN: negatives are not recorded; the histogram answers like the exact path beyond the limit', () => {
  assert.equal(feed(percentile, [-5, 3], 50).result, 3);
  const many = Array.from({ length: HDR_EXACT_LIMIT * 4 }, (_, i) => (i % 97) + 1);
  const r = feed(percentile, many, 90);
  assert.ok(r.s.h, 'counts in bins');
  // 1..54 eleven times each, 55..97 ten times: the ⌈0.9 · 1024⌉ = 922nd smallest is 54 + ⌈(922 − 594) / 10⌉ = 87
  assert.equal(r.result, 87);
  const back = percentile.fromJson(JSON.parse(JSON.stringify(percentile.toJson(r.s))));
  assert.equal(percentile.result(back, 90), 87);
  percentile.release(r.s);
  assert.equal(r.s.h, undefined);
});
