// Reading a file by ranges (io/filerange.ts), as the worker threads do for `kstream … < file`: every line comes
// out exactly once, in order, whatever the ranges' sizes and wherever the lines are cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RangeReader } from '../dist/src/io/filerange.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-range-'));

function withFile(content, fn) {
  const file = path.join(dir, `f${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, content);
  const fd = fs.openSync(file, 'r');
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file);
  }
}

/**
 * Lines of [start, size) read range by range, as the worker pool would, then — as the main thread does after the
 * ranges — whatever follows the last line taken (a last line without a newline).
 */
function readAll(fd, start, size, step, maxLine = 1 << 30) {
  const reader = new RangeReader(fd, maxLine);
  const lines = [];
  let end = start;
  for (let a = start; a < size; a += step) {
    const r = reader.read(a, Math.min(a + step, size), a > start);
    assert.ok(!r.tooLong);
    if (r.any) lines.push(...Buffer.from(r.bytes).toString('latin1').split('\n'));
    else assert.equal(r.bytes.length, 0);
    if (r.end !== undefined) end = r.end;
  }
  const rest = Buffer.alloc(size - end);
  fs.readSync(fd, rest, 0, rest.length, end);
  return { lines, end, rest: rest.toString('latin1') };
}

test('every line exactly once, for any range size, with blank lines and lines cut anywhere', () => {
  const lines = [];
  for (let i = 0; i < 400; i++) lines.push(i % 17 === 0 ? '' : 'x'.repeat((i * 7919) % 90) + `#${i}`);
  for (const trailing of ['\n', '']) {
    const content = lines.join('\n') + trailing;
    withFile(content, (fd) => {
      for (const step of [1, 2, 3, 7, 64, 100, 1000, 1 << 20]) {
        const got = readAll(fd, 0, content.length, step);
        // without a final newline the last line is left to the reader after the ranges
        assert.deepEqual(got.lines, trailing ? lines : lines.slice(0, -1), `step ${step}${trailing ? '' : ', no final newline'}`);
        assert.equal(got.rest, trailing ? '' : lines[lines.length - 1]);
      }
    });
  }
});

test('reading from a position inside the file starts with the line there', () => {
  const content = 'a\nbb\nccc\ndddd\n';
  withFile(content, (fd) => {
    assert.deepEqual(readAll(fd, 5, content.length, 3).lines, ['ccc', 'dddd']);
    assert.deepEqual(readAll(fd, 2, content.length, 1).lines, ['bb', 'ccc', 'dddd']);
  });
});

test('a line longer than the limit is reported after the lines before it', () => {
  const content = 'one\ntwo\n' + 'z'.repeat(5000) + '\nfour\n';
  withFile(content, (fd) => {
    const reader = new RangeReader(fd, 1000);
    const r = reader.read(0, 100, false);
    assert.equal(r.tooLong, true);
    assert.equal(Buffer.from(r.bytes).toString(), 'one\ntwo');
    // a range that starts inside the long line holds no line of its own
    const inside = reader.read(100, 200, true);
    assert.equal(inside.any, false);
    assert.equal(inside.tooLong, false);
  });
});

test('a last line reaching far past its range is read whole', () => {
  const big = 'y'.repeat(300_000);
  const content = `first\n${big}\nlast\n`;
  withFile(content, (fd) => {
    const got = readAll(fd, 0, content.length, 4096);
    assert.deepEqual(got.lines, ['first', big, 'last']);
  });
});

test('a line the end of the file cuts off is left to whoever reads on, wherever its range is', () => {
  const content = 'one\ntwo\nthr';
  withFile(content, (fd) => {
    for (const step of [1, 2, 5, 100]) {
      const got = readAll(fd, 0, content.length, step);
      assert.deepEqual(got.lines, ['one', 'two'], `step ${step}`);
      assert.equal(got.end, content.indexOf('thr'), `step ${step}`);
    }
  });
});
