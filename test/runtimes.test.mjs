// Smoke tests of the built CLI on Node, Bun and Deno (the last two from their npm packages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CLI, runSync, start } from './helpers/spawn.mjs';
import { metricsUrl, scrape, valueOf } from './helpers/prometheus.mjs';

const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const RUNTIMES = {
  node: `"${process.execPath}"`,
  bun: `"${bin('bun')}"`,
  deno: `"${bin('deno')}" run -A`,
};
const sh = (cmd) => runSync(cmd, { shell: 'bash' });

const reference = sh(`${RUNTIMES.node} "${CLI}" gen --preset clicks --count 1000 --seed 7`);
const recs = reference.stdout.trim().split('\n').map((l) => JSON.parse(l));

test('the node reference gen output is the clicks preset', () => {
  assert.equal(reference.code, 0, reference.stderr);
  assert.equal(recs.length, 1000);
  assert.deepEqual(Object.keys(recs[0]), ['ts', 'user', 'page', 'country', 'latency_ms', 'bytes', 'ok']);
});

for (const [name, rt] of Object.entries(RUNTIMES)) {
  test(`${name}: gen is byte-identical to node's, and gen → filter → map → stats gives the expected summary`, () => {
    const gen = sh(`${rt} "${CLI}" gen --preset clicks --count 1000 --seed 7`);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal(gen.stdout, reference.stdout);

    const k = `${rt} "${CLI}"`;
    const piped = sh(`set -o pipefail; ${k} gen --preset clicks --count 1000 --seed 7 | ${k} filter 'r.latency_ms > 50' | ${k} map '({user: r.user, ms: r.latency_ms * 1000})' | ${k} stats --field r.ms --json`);
    assert.equal(piped.code, 0, piped.stderr);
    const s = JSON.parse(piped.stdout);
    const ms = recs.filter((r) => r.latency_ms > 50).map((r) => r.latency_ms * 1000).sort((a, b) => a - b);
    assert.equal(s.count, ms.length);
    const f = s.fields['r.ms'];
    assert.equal(f.count, ms.length);
    assert.equal(f.min, ms[0]);
    assert.equal(f.max, ms[ms.length - 1]);
    // HDR keeps 3 significant digits: the median is within 0.1% of the exact one.
    const exactP50 = ms[Math.ceil(ms.length * 0.5) - 1];
    assert.ok(Math.abs(f.p50 - exactP50) <= exactP50 * 0.001, `p50 ${f.p50} vs ${exactP50}`);

    const fused = sh(`${k} gen --preset clicks --count 1000 --seed 7 + filter 'r.latency_ms > 50' + map '({user: r.user, ms: r.latency_ms * 1000})'`);
    const viaPipe = sh(`${k} gen --preset clicks --count 1000 --seed 7 | ${k} filter 'r.latency_ms > 50' | ${k} map '({user: r.user, ms: r.latency_ms * 1000})'`);
    assert.equal(fused.code, 0, fused.stderr);
    assert.equal(fused.stdout, viaPipe.stdout);
    assert.equal(fused.stdout.trim().split('\n').length, ms.length);

    const bad = sh(`printf '{"a":1}\\n{"a":2,}\\n' | ${k} map r.a`);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '1\n');
    assert.match(bad.stderr, /^kstream: stdin line 2: invalid JSON at column 8/);
  });
}

for (const [name, rt] of Object.entries(RUNTIMES)) {
  test(`${name}: the codec libraries load and round-trip a record batch (gzip, snappy, lz4, zstd)`, () => {
    const script = fileURLToPath(new URL('./helpers/codec-roundtrip.mjs', import.meta.url));
    const r = sh(`${rt} "${script}"`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()), { gzip: 'ok', snappy: 'ok', lz4: 'ok', zstd: 'ok' });
  });
}

for (const [name, rt] of Object.entries(RUNTIMES)) {
  test(`${name}: --metrics serves the exposition (process metrics where the runtime has them) and exits at the end`, async () => {
    const p = start(`exec ${rt} "${CLI}" filter 'r.n > 0' --metrics 127.0.0.1:0`, { stdin: 'pipe', shell: 'bash', timeout: 60_000 });
    try {
      const url = await metricsUrl(p, 30_000);
      p.child.stdin.write('{"n":0}\n{"n":1}\n{"n":2}\n');
      await p.waitFor((s) => s === '{"n":1}\n{"n":2}\n');
      const m = await scrape(url);
      assert.equal(valueOf(m, 'kstream_records_in_total'), 3);
      assert.equal(valueOf(m, 'kstream_records_out_total'), 2);
      assert.ok(valueOf(m, 'process_resident_memory_bytes') > 1e6);
      assert.ok(valueOf(m, 'process_cpu_seconds_total') > 0);
    } finally {
      p.child.stdin.end();
    }
    assert.equal((await p.exited).code, 0);
  });
}
