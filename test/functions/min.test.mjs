// aggregate/functions/min.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { min } from '../../dist/src/operators/aggregate/functions/min.js';
import { feed, call } from './helpers.mjs';

test('min: the smallest, null for none', () => {
  assert.equal(feed(min, [5, 3, 9]).result, 3);
  assert.equal(feed(min, []).result, null);
  assert.equal(min.merge(undefined, 4), 4);
  assert.equal(min.merge(2, undefined), 2);
  assert.equal(min.fromJson(min.toJson(undefined)), undefined);
});
