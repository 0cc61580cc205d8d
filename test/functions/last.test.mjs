// aggregate/functions/last.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { last } from '../../dist/src/operators/aggregate/functions/last.js';
import { feed, call } from './helpers.mjs';

test('last: by event time, arrival breaks ties', () => {
  assert.equal(feed(last, ['a', 'b', 'c'], undefined, { times: [5, 7, 7] }).result, 'c');
  assert.equal(feed(last, ['a', 'b'], undefined, { times: [5, 1] }).result, 'a');
  assert.equal(feed(last, []).result, null);
});
