// The floors of docs/design.md, checked on the source: no import cycle (type imports included), no import up a
// floor, and a run that needs no Kafka loads no Kafka code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph, cycles } from './helpers/imports.mjs';
import { runSync } from './helpers/spawn.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const graph = importGraph(ROOT);

test('the import graph has a file for every source and finds their imports', () => {
  assert.ok(graph.size > 80, `${graph.size} files`);
  assert.ok(graph.get('src/cli.ts').includes('src/pipeline/assemble.ts'));
  // a type-only import counts as an edge
  assert.ok(graph.get('src/pipeline/onerror.ts').includes('src/pipeline/run-context.ts'));
});

test('no import cycles, type imports included', () => {
  const found = cycles(graph);
  assert.deepEqual(found, [], `cycles:\n${found.map((c) => c.join(' → ')).join('\n')}`);
});

// A floor imports only floors below it (docs/design.md): lower number = lower floor.
const FLOORS = [
  [0, /^src\/pipeline\/(errors|record|stage|spans|command|run-context|onerror|statejson|words)\.ts$/],
  [0, /^src\/runtime\.ts$/],
  [1, /^src\/(codec|time)\//],
  [1, /^src\/report\/decimal\.ts$/],
  [2, /^src\/operators\//],
  [2, /^src\/report\//],
  [2, /^src\/loadgen\//],
  // Kafka's own floors: the pure protocol (record batches, compression, request codecs) beside the other codecs;
  // then its contracts (config, errors, client interfaces, the offset grammar), the transport (the only code that
  // knows the client library), the client (admin, group member, producer, transactions) and the connectors (source,
  // sink, changelog state, dead letters, exactly-once) that the run uses
  [1, /^src\/kafka\/protocol\//],
  [3.4, /^src\/kafka\/transport\//],
  [3.6, /^src\/kafka\/client\//],
  [3.8, /^src\/kafka\/connect\//],
  // the Kafka bench drives the run loop (runner, in-process pipeline), and a repartitioned run is two runs joined
  // by a topic: run-floor files kept beside the Kafka code
  [4, /^src\/kafka\/(bench|repartition)\.ts$/],
  [3.2, /^src\/kafka\/[^/]+\.ts$/],
  [3, /^src\/io\//],

  // the run and its plan: the runner, worker threads, and argv → plan (typed options, help), which the worker
  // threads use too, to rebuild the stages from the pipeline's text
  [4, /^src\/pipeline\//],
  [4, /^src\/cli\//],
  // the gateway: an HTTP server around a run (its pipeline is assembled and run like a command line's) and the
  // Kafka client (its sends and the output tail)
  [5, /^src\/serve\//],
  [6, /^commands\//],
  // the entry points: the command line and the worker threads, which hand the command table down
  [7, /^src\/(cli|worker)\.ts$/],
];
const floorOf = (f) => FLOORS.find(([, re]) => re.test(f))?.[0];

test('every file is on a floor, and imports go down (or stay on their floor)', () => {
  const up = [];
  for (const [f, deps] of graph) {
    const me = floorOf(f);
    assert.notEqual(me, undefined, `${f} is on no floor: add it to FLOORS`);
    for (const d of deps) if (floorOf(d) > me) up.push(`${f} (${me}) → ${d} (${floorOf(d)})`);
  }
  assert.deepEqual(up, [], `imports up a floor:\n${up.join('\n')}`);
});

test('operators, codecs and time import no I/O, no Kafka client and no runtime', () => {
  for (const [f, deps] of graph) {
    if (!/^src\/(operators|codec|time)\//.test(f)) continue;
    for (const d of deps) assert.ok(!/^src\/(io|kafka|pipeline\/(runner|parallel|assemble))/.test(d), `${f} imports ${d}`);
    assert.doesNotMatch(fs.readFileSync(path.join(ROOT, f), 'utf8'), /from 'kafkajs'/, f);
  }
});

test('only the transport knows the client library: no other source imports or requires kafkajs', () => {
  const knows = [];
  for (const f of graph.keys()) {
    if (f.startsWith('src/kafka/transport/')) continue;
    // any string naming the package or a file of it: imports, require() and createRequire(…)(…) alike
    if (/['"`]kafkajs[/'"`]/.test(fs.readFileSync(path.join(ROOT, f), 'utf8'))) knows.push(f);
  }
  assert.deepEqual(knows, []);
});

test('`kstream filter` loads no Kafka module; a run with dlq=kafka: does', () => {
  const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-trace-')), 'imports.txt');
  const hook = fileURLToPath(new URL('./helpers/trace-imports.mjs', import.meta.url));
  const r = runSync(['filter', 'r.ok'], '{"ok":true}\n', { env: { KSTREAM_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import=${hook}` } });
  assert.equal(r.code, 0, r.stderr);
  const loaded = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  assert.ok(loaded.some((u) => u.endsWith('/commands/filter.js')), 'the trace sees the command');
  assert.deepEqual(loaded.filter((u) => /\/src\/kafka\/|kafkajs|\/commands\/(consume|produce)\.js/.test(u)), []);
  fs.rmSync(trace);
  // (no broker: the run stops at its check of the dead-letter topic, after loading the Kafka layer)
  const d = runSync(['filter', 'r.ok', '--on-error', 'dlq=kafka:dead'], '{"ok":true}\n', { env: { KSTREAM_BROKERS: '127.0.0.1:1', KSTREAM_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import=${hook}` } });
  assert.match(d.stderr, /cannot reach brokers `127\.0\.0\.1:1`/);
  assert.ok(fs.readFileSync(trace, 'utf8').split('\n').some((u) => u.includes('/kafka/connect/run.js')), 'dead letters to Kafka load the Kafka layer');
});
