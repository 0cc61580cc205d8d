// aggregate/functions/count.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { count } from '../../dist/src/operators/aggregate/functions/count.js';
import { feed, call } from './helpers.mjs';

test('count: records, or non-null values of an expression', () => {
  assert.equal(feed(count, [1, 2, 3]).result, 3);
  assert.deepEqual(call(count, 'count'), { arg: undefined, param: undefined });
  assert.deepEqual(call(count, 'count(r.user)'), { arg: 'r.user', param: undefined });
  assert.equal(count.state(undefined), 'count');
  assert.equal(count.state('r.user'), 'countv');
  assert.throws(() => call(count, 'count(a, b)'), /takes no argument or one/);
  assert.equal(count.merge(2, 3), 5);
  assert.equal(count.fromJson(count.toJson(7)), 7);
});
