// aggregate/functions/distinct.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distinct } from '../../dist/src/operators/aggregate/functions/distinct.js';
import { feed, call } from './helpers.mjs';

test('distinct: exact; 1 and "1" differ; objects by content', () => {
  assert.equal(feed(distinct, [1, '1', 1, { a: 1 }, { a: 1 }, [1]]).result, 4);
  const s = feed(distinct, ['x', 'y']).s;
  assert.equal(distinct.result(distinct.merge(distinct.clone(s), feed(distinct, ['y', 'z']).s)), 3);
  assert.equal(distinct.result(distinct.fromJson(JSON.parse(JSON.stringify(distinct.toJson(s))))), 2);
});
