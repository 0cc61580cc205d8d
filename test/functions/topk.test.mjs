// aggregate/functions/topk.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topk } from '../../dist/src/operators/aggregate/functions/topk.js';
import { feed, call } from './helpers.mjs';

test('topk: most frequent first, ties by value text, n limits', () => {
  const { result } = feed(topk, ['b', 'a', 'b', 'c', 'a', 'b'], 2);
  assert.deepEqual(result, [{ value: 'b', count: 3 }, { value: 'a', count: 2 }]);
  assert.deepEqual(call(topk, 'topk(r.page, 3)'), { arg: 'r.page', param: 3 });
  assert.throws(() => call(topk, 'topk(r.page, 0)'), /n must be a whole number/);
  const s = feed(topk, ['x', 'y', 'x'], 5).s;
  assert.deepEqual(topk.result(topk.fromJson(JSON.parse(JSON.stringify(topk.toJson(s)))), 5), [{ value: 'x', count: 2 }, { value: 'y', count: 1 }]);
});
