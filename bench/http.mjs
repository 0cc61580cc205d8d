// The gateway bench (issue 15): a fresh `kstream serve` on a free port against the broker (KSTREAM_BROKERS, default
// 127.0.0.1:9092), then `kstream bench --http` --runs times with the same load, and the median (with the range) of
// each figure. The gateway is started once per invocation and stays up across runs, as a server would.
//
//   node bench/http.mjs                                   the seed's load: 1000 streams, 5000 requests/s, 60 s, 3 runs
//   node bench/http.mjs --batch 10 --duration 30s         batched: NDJSON bodies of 10 records
//   node bench/http.mjs --ws --runs 1                     over WebSockets
//   node bench/http.mjs --serve-runtime bun               the gateway on Bun (the bench itself stays on Node)
//   node bench/http.mjs --serve-workers 2                the gateway as 2 processes on one port (serve --workers)
//   node bench/http.mjs --cpu-prof out/                   the gateway under `node --cpu-prof` (written at its exit)
//
// Every other option is passed to `bench --http` as it is (--streams, --rate, --warmup, --connections, …).
// --check exits 1 when a goal of issue 15 is missed (ack mean ≤ 12 ms, p99 ≤ 25 ms, result p99 ≤ 50 ms, RSS ≤ 300 MB,
// no errors).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, check, cli, node, opt, flag, say } from './common.mjs';

const runs = Number(opt('--runs', 3));
const brokers = process.env.KSTREAM_BROKERS ?? '127.0.0.1:9092';
const runtime = opt('--serve-runtime', 'node');
const prof = opt('--cpu-prof');
const workers = opt('--serve-workers');
const OWN = new Set(['--runs', '--serve-runtime', '--cpu-prof', '--cli', '--serve-workers']);
const passed = [];
for (let i = 0; i < args.length; i++) {
  if (OWN.has(args[i])) i++;
  else if (args[i] !== '--check' && args[i] !== '--json') passed.push(args[i]);
}
const has = (name) => passed.includes(name);
const load = [...passed];
if (!has('--streams')) load.push('--streams', '1000');
if (!has('--rate')) load.push('--rate', '5000');
if (!has('--duration')) load.push('--duration', '60s');
if (!has('--warmup')) load.push('--warmup', '5s');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-bench-http-'));
const key = randomBytes(24).toString('hex');
fs.writeFileSync(path.join(tmp, 'keys.txt'), `bench ${key}\n`);
const topic = `bench-http-${Date.now().toString(36)}`;
const serveArgs = [cli, 'serve', '--api-keys', path.join(tmp, 'keys.txt'), '--port', '0', '--topic', topic, '--brokers', brokers, '--rate', '1000000/s', '--burst', '1000000', '--max-streams', '100000', '--max-subscribers', '100000', ...(workers ? ['--workers', workers] : [])];
const runner = runtime === 'bun' ? [path.resolve('node_modules/.bin/bun')] : runtime === 'deno' ? [path.resolve('node_modules/.bin/deno'), 'run', '-A'] : prof ? [node, '--cpu-prof', '--cpu-prof-dir', path.resolve(prof)] : [node];
const gw = spawn(runner[0], [...runner.slice(1), ...serveArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
const url = await new Promise((resolve, reject) => {
  gw.stderr.on('data', (c) => {
    stderr += c;
    const m = /serving at (\S+)/.exec(stderr);
    if (m) resolve(m[1]);
  });
  gw.on('exit', (code) => reject(new Error(`kstream serve exited (${code}): ${stderr}`)));
});
say(`gateway ${url} (pid ${gw.pid}, ${runtime}), topics ${topic}-in/-out; bench --http ${load.join(' ')}`);

const results = [];
try {
  for (let r = 0; r < runs; r++) {
    const b = spawnSync(node, [cli, 'bench', '--http', url, '--api-key', key, '--gateway-pid', String(gw.pid), '--json', ...load], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 26 });
    if (b.status !== 0) throw new Error(`bench --http failed (${b.status}): ${b.stderr}`);
    const out = JSON.parse(b.stdout);
    out.loadavg = os.loadavg()[0];
    results.push(out);
    say(`run ${r + 1}: ack mean ${out.ack_ms.mean} p99 ${out.ack_ms.p99} ms, result p99 ${out.result_ms.p99} ms, ${out.records_per_s} records/s, errors ${JSON.stringify(out.errors)}, missing ${out.records.missing}, gateway ${out.gateway?.cpu_percent}% CPU ${out.gateway?.rss_mb_max} MB, generator ${out.generator.cpu_percent}% (load avg ${out.loadavg.toFixed(1)})`);
  }
} finally {
  gw.kill('SIGINT');
  await new Promise((r) => gw.on('exit', r));
  spawnSync(node, [cli, 'topics', 'delete', `${topic}-in`, `${topic}-out`, '--brokers', brokers], { stdio: 'ignore' });
  spawnSync(node, [cli, 'groups', 'delete', `${topic}-pipeline`, '--brokers', brokers], { stdio: 'ignore' });
  fs.rmSync(tmp, { recursive: true, force: true });
}

const pick = {
  'ack mean ms': (o) => o.ack_ms.mean,
  'ack p50 ms': (o) => o.ack_ms.p50,
  'ack p99 ms': (o) => o.ack_ms.p99,
  'ack max ms': (o) => o.ack_ms.max,
  'result mean ms': (o) => o.result_ms.mean,
  'result p99 ms': (o) => o.result_ms.p99,
  'requests/s': (o) => o.requests_per_s,
  'records/s': (o) => o.records_per_s,
  'errors': (o) => o.requests.failed,
  'missing results': (o) => o.records.missing,
  'gateway CPU %': (o) => o.gateway?.cpu_percent ?? NaN,
  'gateway RSS max MB': (o) => o.gateway?.rss_mb_max ?? NaN,
  'generator CPU %': (o) => o.generator.cpu_percent,
  'max behind ms': (o) => o.max_behind_ms,
  'load average': (o) => +o.loadavg.toFixed(2),
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = {};
for (const [name, f] of Object.entries(pick)) {
  const xs = results.map(f);
  summary[name] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}
for (const [name, s] of Object.entries(summary)) say(`${name.padEnd(20)} ${String(s.median).padStart(10)}   (${s.min} – ${s.max})`);
if (flag('--json')) process.stdout.write(JSON.stringify({ load, runtime, runs: results, summary }) + '\n');

const missed = [];
const m = (name) => summary[name].median;
if (m('ack mean ms') > 12) missed.push(`ack mean ${m('ack mean ms')} ms > 12`);
if (m('ack p99 ms') > 25) missed.push(`ack p99 ${m('ack p99 ms')} ms > 25`);
if (m('result p99 ms') > 50) missed.push(`send → result p99 ${m('result p99 ms')} ms > 50`);
if (m('gateway RSS max MB') > 300) missed.push(`gateway RSS ${m('gateway RSS max MB')} MB > 300`);
if (m('errors') > 0) missed.push(`${m('errors')} errors`);
if (missed.length) say(`goals missed: ${missed.join('; ')}`);
process.exit(check && missed.length ? 1 : 0);
