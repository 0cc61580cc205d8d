// npm run build:bin: one executable (bun build --compile) that runs without Node — built here, then used for a
// pipeline and against the real broker at KSTREAM_BROKERS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { itContext } from '../helpers/broker.mjs';
import { run } from '../helpers/spawn.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ctx = await itContext();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-bin-'));
const exe = path.join(dir, 'kstream');
// nothing on its PATH (node lives in /usr/bin here): the binary must not need it
fs.mkdirSync(path.join(dir, 'empty'));
const env = { ...ctx.env, PATH: path.join(dir, 'empty') };
const sh = (cmd, input) => spawnSync('/bin/bash', ['-c', cmd], { env, input, encoding: 'utf8', cwd: dir, maxBuffer: 64 << 20 });

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('build:bin makes one file that runs gen | filter and reads and writes the broker, compressed too', { timeout: 120_000 }, async () => {
  const b = spawnSync(process.execPath, ['scripts/build-bin.mjs', '--outfile', exe], { cwd: REPO, encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stderr, /build:bin: .*kstream \(\d+ MiB\)\n$/);

  assert.equal(sh(`command -v node || echo none`).stdout.trim(), 'none');
  assert.equal(sh(`./kstream --version`).stdout, 'kstream/0.1.0\n');

  // the same records as the Node build's
  const want = (await run(['gen', '--count', '20000', '--seed', '3', '+', 'filter', 'r.latency_ms > 50'])).stdout;
  const piped = sh(`set -o pipefail; ./kstream gen --count 20000 --seed 3 | ./kstream filter 'r.latency_ms > 50'`);
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, want);
  // a file on stdin: the range reader's path (on Bun it runs on one thread — parallel.ts — so the worker module the
  // binary also carries is not started here)
  fs.writeFileSync(path.join(dir, 'in.ndjson'), (await run(['gen', '--count', '20000', '--seed', '3'])).stdout);
  const file = sh(`./kstream filter 'r.latency_ms > 50' < in.ndjson`);
  assert.equal(file.status, 0, file.stderr);
  assert.equal(file.stdout, want);

  // Kafka: written with zstd by the binary (a native addon it carries), read back by it and by the Node build
  const topic = ctx.name('bin');
  const p = sh(`./kstream gen --count 500 --seed 4 | ./kstream produce ${topic} --create --partitions 2 --key r.user -z zstd -q`);
  assert.equal(p.status, 0, p.stderr);
  const back = sh(`./kstream consume ${topic} --exit + stats --json`);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(JSON.parse(back.stdout).count, 500, back.stdout);
  const viaNode = await run(['consume', topic, '--exit'], { env: ctx.env });
  const sorted = (t) => t.trim().split('\n').sort().join('\n');
  assert.equal(sorted(viaNode.stdout), sorted((await run(['gen', '--count', '500', '--seed', '4'])).stdout));
});
