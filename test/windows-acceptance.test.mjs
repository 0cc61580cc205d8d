// Issue 4's acceptance run: 100k generated clicks through `window tumbling 10s | aggregate count avg --by page`,
// piped and fused, checked against a straightforward reference computed here from the same records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSync, piped, lines } from './helpers/spawn.mjs';

test('100k clicks: one final record per (window, page) with the reference counts and averages', { timeout: 120_000 }, async () => {
  const gen = runSync(['gen', '--preset', 'clicks', '--count', '100000', '--seed', '3']);
  assert.equal(gen.code, 0, gen.stderr);
  const input = gen.stdout;

  // Reference: group by [⌊ts/10s⌋·10s, +10s) and page; count and mean latency.
  const groups = new Map();
  for (const r of lines(input)) {
    const start = Math.floor(r.ts / 10_000) * 10_000;
    const id = `${start}\u0000${r.page}`;
    const g = groups.get(id) ?? { key: r.page, start, n: 0, sum: 0 };
    g.n++;
    g.sum += r.latency_ms;
    groups.set(id, g);
  }

  const stages = [['window', 'tumbling', '10s', '--time', 'r.ts'], ['aggregate', 'count', 'avg(r.latency_ms)', '--by', 'r.page']];
  const p = await piped(stages, input);
  assert.deepEqual(p.codes, [0, 0], p.stderr.join(''));
  const fused = runSync([...stages[0], '+', ...stages[1]], input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.equal(fused.stdout, p.stdout, 'piped and fused are byte-identical');

  // Watermarks travel on as control lines (a later windowed stage needs them); --no-watermarks drops them.
  const all = lines(p.stdout);
  const controls = all.filter((o) => Object.keys(o).length === 1 && Object.keys(o)[0] === '$kstream');
  const out = all.filter((o) => !controls.includes(o));
  assert.ok(controls.length > 0 && controls.every((c) => typeof c.$kstream.watermark === 'number'));
  const clean = runSync([...stages[0], '+', ...stages[1], '--no-watermarks'], input);
  assert.deepEqual(lines(clean.stdout), out);
  assert.equal(out.length, groups.size, 'one result per (window, page)');
  const seen = new Set();
  let prev = null;
  for (const o of out) {
    assert.equal(o.emit, 'final');
    assert.equal(o.window.end - o.window.start, 10_000);
    const g = groups.get(`${o.window.start}\u0000${o.key}`);
    assert.ok(g, `unexpected group ${o.key}@${o.window.start}`);
    assert.equal(o.count, g.n);
    assert.ok(Math.abs(o.avg_latency_ms - g.sum / g.n) < 1e-9, `avg ${o.avg_latency_ms} vs ${g.sum / g.n}`);
    const id = `${o.window.start}|${o.key}`;
    assert.ok(!seen.has(id), `duplicate ${id}`);
    seen.add(id);
    // Final results come in order of (end, start, key).
    if (prev) assert.ok(prev.window.end < o.window.end || (prev.window.end === o.window.end && String(prev.key) <= String(o.key)));
    prev = o;
  }
  assert.equal(out.reduce((a, o) => a + o.count, 0), 100_000);
});
