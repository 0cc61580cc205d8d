// aggregate/functions/max.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { max } from '../../dist/src/operators/aggregate/functions/max.js';
import { feed, call } from './helpers.mjs';

test('max: the largest, null for none', () => {
  assert.equal(feed(max, [5, 3, 9]).result, 9);
  assert.equal(feed(max, []).result, null);
  assert.equal(max.merge(10, 4), 10);
  assert.equal(max.fromJson(max.toJson(3)), 3);
});
