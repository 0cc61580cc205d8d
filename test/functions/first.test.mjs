// aggregate/functions/first.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { first } from '../../dist/src/operators/aggregate/functions/first.js';
import { feed, call } from './helpers.mjs';

test('first: by event time, arrival breaks ties', () => {
  assert.equal(feed(first, ['a', 'b', 'c'], undefined, { times: [5, 3, 3] }).result, 'b');
  assert.equal(feed(first, []).result, null);
  const x = feed(first, ['late'], undefined, { times: [9] }).s;
  const y = feed(first, ['early'], undefined, { times: [1] }).s;
  assert.equal(first.result(first.merge(first.clone(x), y)), 'early');
  assert.deepEqual(first.fromJson(first.toJson(y)), y);
});
