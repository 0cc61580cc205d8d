import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldsRead } from '../dist/src/operators/fields.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { splitPipeline, splitFused } from '../dist/src/pipeline/words.js';
import { parseDuration, parseRate, parseSize } from '../dist/src/time/duration.js';

test('field analysis finds r.<name> reads', () => {
  assert.deepEqual(fieldsRead('r.latency_ms > 50'), ['latency_ms']);
  assert.deepEqual(fieldsRead('({user: r.user, ms: r.latency_ms * 1000})'), ['user', 'latency_ms']);
  assert.deepEqual(fieldsRead('`${r.a}-${r.b}`'), ['a', 'b']);
  assert.deepEqual(fieldsRead("'r' + r.d + \"r\""), ['d']);
  assert.deepEqual(fieldsRead('/r/.test(r.c)'), ['c']);
  assert.deepEqual(fieldsRead('r.a / 2 / r.b'), ['a', 'b']);
  assert.deepEqual(fieldsRead('r?.y ?? 0'), ['y']);
  assert.deepEqual(fieldsRead('x.r + r.z'), ['z']);
  assert.deepEqual(fieldsRead('r.a.b.c'), ['a']);
  assert.equal(fieldsRead('key + ts'), 'none');
});

test('anything but plain reads of r needs the whole value', () => {
  for (const e of ['r', 'r["a"]', '{...r}', 'xs.map(r => r.q)', 'r.x = 1', 'r.n++', '--r.n', 'delete r.a', 'r.hasOwnProperty("a")',
    'r.toString()', 'Object.keys(r)', 'r.a += 1', 'JSON.stringify(r)', 'arguments[0].x = 1', 'eval("r")', 'arguments.length > 3']) {
    assert.equal(fieldsRead(e), 'all', e);
  }
  assert.deepEqual(fieldsRead('r.arguments + r.eval'), ['arguments', 'eval'], 'member names are fields');
});

test('compileExpr: syntax errors are usage errors quoting the expression', () => {
  assert.throws(() => compileExpr('r.a +', 'map expression'), (e) => e.exitCode === 2 && /`r\.a \+`/.test(e.message));
  assert.throws(() => compileExpr('  ', 'filter expression'), (e) => e.exitCode === 2);
  const e = compileExpr('{a: r.x}', 'map expression');
  assert.deepEqual(e.fn({ x: 5 }), { a: 5 });
  assert.equal(compileExpr('r.a // comment', 'm').fn({ a: 3 }), 3);
});

test('pipelines as one string split on unquoted | and +', () => {
  assert.deepEqual(splitPipeline(`consume t | filter 'r.a | r.b' + map "r.x + 1"`), [['consume', 't'], ['filter', 'r.a | r.b'], ['map', 'r.x + 1']]);
  assert.deepEqual(splitFused(['filter', 'r.ok', '+', 'map', 'r.x']), [['filter', 'r.ok'], ['map', 'r.x']]);
  assert.throws(() => splitPipeline('filter x |'), /empty stage/);
  assert.throws(() => splitFused(['+', 'map', 'r']), /empty stage/);
});

test('durations, sizes and rates', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseSize('1k'), 1024);
  assert.equal(parseSize('1m'), 1048576);
  assert.equal(parseRate('20k'), 20000);
  assert.equal(parseRate('20000'), 20000);
  for (const bad of ['1x', '-5s', 'soon']) assert.throws(() => parseDuration(bad), (e) => e.exitCode === 2 && e.message.includes(bad));
});
