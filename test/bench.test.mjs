// The in-process `kstream bench` (the quick start's command, no broker): its --json result and its table. Flat out,
// a latency is each batch's time in the pipeline; at a constant --rate it runs from each record's intended send
// time (coordinated omission corrected), and records sent late are counted as "behind schedule".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSync, lines } from './helpers/spawn.mjs';

const T = { timeout: 60_000 };

/** The default pipeline's output count, computed here: `filter 'r.latency_ms > 50'` over `gen --preset clicks`. */
function expectedOut(count, seed = 1) {
  const g = runSync(['gen', '--preset', 'clicks', '--count', String(count), '--seed', String(seed)]);
  assert.equal(g.code, 0, g.stderr);
  const recs = lines(g.stdout);
  assert.equal(recs.length, count);
  return recs.filter((r) => r.latency_ms > 50).length;
}

function bench(args) {
  const r = runSync(['bench', ...args], '', { timeout: 50_000 });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** A latency summary that is whole and ordered: one value per record, none negative, min ≤ p50 ≤ … ≤ max. */
function checkSummary(l, count) {
  for (const k of ['count', 'negative', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'max']) assert.equal(typeof l[k], 'number', `latency_ms.${k}: ${JSON.stringify(l)}`);
  assert.equal(l.count, count, 'one latency per record');
  assert.equal(l.negative, 0);
  assert.ok(l.min >= 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l['p99.9'] && l['p99.9'] <= l['p99.99'] && l['p99.99'] <= l.max, `ordered: ${JSON.stringify(l)}`);
  assert.ok(l.min <= l.mean && l.mean <= l.max, `mean within [min, max]: ${JSON.stringify(l)}`);
}

test('bench --json flat out: every record through the default pipeline, its output count, latencies within the run', T, () => {
  const out = JSON.parse(bench(['--json', '--count', '20000']).stdout);
  assert.equal(out.mode, 'in-process');
  assert.equal(out.preset, 'clicks');
  assert.equal(out.rate, null);
  assert.equal(out.records_in, 20000);
  assert.equal(out.records_out, expectedOut(20000));
  assert.equal(out.late, 0);
  assert.equal(out.max_behind_ms, 0);
  checkSummary(out.latency_ms, 20000);
  // a batch's time in the pipeline is part of the run
  assert.ok(out.latency_ms.max <= out.seconds * 1000, `max ${out.latency_ms.max} ms within the ${out.seconds} s run`);
  assert.ok(out.records_per_s > 0 && out.pipeline_records_per_s >= out.records_per_s * 0.99, JSON.stringify(out));
  assert.equal(out.plot, undefined, 'the plot points stay out of --json');
});

test('bench --rate: latency from the intended send time — at a rate it keeps, and at one it cannot (behind schedule)', T, () => {
  // 2000 records/s for 1000 records: the schedule alone takes 0.5 s
  const kept = JSON.parse(bench(['--json', '--rate', '2000', '--count', '1000']).stdout);
  assert.equal(kept.rate, 2000);
  assert.equal(kept.records_in, 1000);
  assert.equal(kept.records_out, expectedOut(1000));
  assert.ok(kept.seconds >= 0.499, `paced: ${kept.seconds} s for 1000 records at 2000/s`);
  checkSummary(kept.latency_ms, 1000);
  assert.ok(Number.isInteger(kept.late) && kept.late >= 0 && kept.late <= 1000, `late ${kept.late}`);
  // a record sent B ms behind schedule has a latency of at least B: the stall is not left out
  assert.ok(kept.latency_ms.max >= kept.max_behind_ms, `max latency ${kept.latency_ms.max} ≥ max behind ${kept.max_behind_ms}`);

  // far more than one process can generate: it falls behind at once, and every latency includes the lag
  const over = JSON.parse(bench(['--json', '--rate', '10M', '--duration', '1s']).stdout);
  assert.equal(over.rate, 10_000_000);
  assert.ok(over.records_in > 4096 && over.records_in < 10_000_000, `records_in ${over.records_in}`);
  assert.equal(over.records_out, expectedOut(over.records_in));
  checkSummary(over.latency_ms, over.records_in);
  assert.ok(over.late > over.records_in / 2, `late ${over.late} of ${over.records_in}`);
  assert.ok(over.max_behind_ms > 100, `max behind ${over.max_behind_ms} ms`);
  assert.ok(over.latency_ms.max >= over.max_behind_ms, `max latency ${over.latency_ms.max} ≥ max behind ${over.max_behind_ms}`);
  // coordinated omission corrected: the lag grows through the run, so the median record waited a good part of it
  assert.ok(over.latency_ms.p50 > 100, `p50 ${over.latency_ms.p50} ms`);
});

test('bench table: "behind schedule" with its count under --rate, not flat out', T, () => {
  const rated = bench(['--rate', '10M', '--count', '20000']).stdout;
  const m = /behind schedule\s*│\s*([\d,]+) records sent > 1 ms late \(max ([\d.]+) ms\)/.exec(rated);
  assert.ok(m, rated);
  assert.ok(Number(m[1].replaceAll(',', '')) > 0, `behind schedule: ${m[0]}`);
  assert.match(rated, /records in \/ out\s*│\s*20,000 \/ [\d,]+/);
  assert.match(rated, /10,000,000 records\/s constant \(latency from intended time\)/);
  assert.match(rated, /│ latency ms\s*│\s*20000\s*│/);
  const flat = bench(['--count', '5000']).stdout;
  assert.doesNotMatch(flat, /behind schedule/);
  assert.match(flat, /as fast as possible/);
  assert.match(flat, /│ in pipeline ms\s*│\s*5000\s*│/);
});
