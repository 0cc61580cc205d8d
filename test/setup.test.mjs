// `npm test` on a machine that lacks a program the tests need stops at once with one line naming it (issue 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../scripts/test.mjs', import.meta.url));

test('scripts/test.mjs names every missing program in one line and exits 1 before running anything', () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-path-'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = spawnSync(process.execPath, [SCRIPT], { env: { ...process.env, PATH: bin, KSTREAM_BROKERS: '' }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '', 'no test ran');
  assert.deepEqual(r.stderr.trim().split('\n'), [
    "test: `jq`, `java`, `keytool`, `mvn`, `kcat` not found — install them (Debian/Ubuntu: apt-get install jq openjdk-17-jdk-headless maven kcat); the README's \"Tests\" section lists what the tests need",
  ]);
  const unit = spawnSync(process.execPath, [SCRIPT, '--unit'], { env: { ...process.env, PATH: bin }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(unit.status, 1);
  assert.match(unit.stderr, /^test: `jq` not found — install it \(Debian\/Ubuntu: apt-get install jq\)/);
});
