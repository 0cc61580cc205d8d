// consume, produce and a fused consume → filter → produce against the real broker, on Node, Bun and Deno.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { itContext } from '../helpers/broker.mjs';
import { CLI, runSync } from '../helpers/spawn.mjs';

const { brokers: BROKERS, env, topics } = await itContext();
const bin = (name) => fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));
const RUNTIMES = { node: `"${process.execPath}"`, bun: `"${bin('bun')}"`, deno: `"${bin('deno')}" run -A` };
const sh = (cmd) => runSync(cmd, { shell: 'bash', env, timeout: 90_000 });

const gen = sh(`"${process.execPath}" "${CLI}" gen --preset clicks --count 2000 --seed 11`);
const records = gen.stdout.trim().split('\n').map((l) => JSON.parse(l));
const sorted = (xs) => xs.map((x) => JSON.stringify(x)).sort();

for (const [name, rt] of Object.entries(RUNTIMES)) {
  test(`${name}: produce, consume, and fused consume → filter → produce through Kafka`, { timeout: 120_000 }, () => {
    assert.ok(BROKERS, 'KSTREAM_BROKERS is set by scripts/test.mjs');
    const k = `${rt} "${CLI}"`;
    const topic = `rt-${name}-${process.pid}-${Date.now()}`;
    topics.push(topic, `${topic}-slow`);
    const prod = sh(`"${process.execPath}" "${CLI}" gen --preset clicks --count 2000 --seed 11 | ${k} produce ${topic} --key r.user --create --partitions 2`);
    assert.equal(prod.code, 0, prod.stderr);

    const cons = sh(`${k} consume ${topic} --offset start --exit`);
    assert.equal(cons.code, 0, cons.stderr);
    assert.deepEqual(sorted(cons.stdout.trim().split('\n').map((l) => JSON.parse(l))), sorted(records));

    const out = `${topic}-slow`;
    const fused = sh(`${k} consume ${topic} --offset start --exit + filter 'r.latency_ms > 100' + produce ${out} --create`);
    assert.equal(fused.code, 0, fused.stderr);
    const back = sh(`${k} consume ${out} --offset start --exit`);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(sorted(back.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))), sorted(records.filter((r) => r.latency_ms > 100)));
  });
}
