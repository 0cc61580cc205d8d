// `npm test` on a machine that lacks a program the tests need stops at once with one line naming it (issue 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSync } from './helpers/spawn.mjs';

const SCRIPT = fileURLToPath(new URL('../scripts/test.mjs', import.meta.url));
/** `node scripts/test.mjs …args` with `env` added. */
const script = (args, env) => runSync([SCRIPT, ...args], { bin: process.execPath, env, timeout: 30_000 });

test('scripts/test.mjs names every missing program in one line and exits 1 before running anything', () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-path-'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = script([], { PATH: bin, KSTREAM_BROKERS: '' });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'no test ran');
  assert.deepEqual(r.stderr.trim().split('\n'), [
    "test: `jq`, `zsh`, `fish`, `java`, `keytool`, `mvn`, `openssl`, `kcat` not found — install them (Debian/Ubuntu: apt-get install jq zsh fish openjdk-17-jdk-headless maven openssl kcat); the README's \"Tests\" section lists what the tests need",
  ]);
  const unit = script(['--unit'], { PATH: bin });
  assert.equal(unit.code, 1);
  assert.match(unit.stderr, /^test: `jq`, `zsh`, `fish` not found — install them \(Debian\/Ubuntu: apt-get install jq zsh fish\)/);
});

test('scripts/test.mjs stops with exit 1 and one line naming the words that select no test file', () => {
  const run = (...args) => script(args, { KSTREAM_BROKERS: '127.0.0.1:1' });
  const none = run('no-such-test-word');
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '', 'no test ran');
  assert.deepEqual(none.stderr.trim().split('\n'), ['test: no test file matches `no-such-test-word`']);
  // one word that matches and one that does not: still a typo, named alone
  const some = run('--unit', 'fields', 'nosuchword');
  assert.equal(some.code, 1);
  assert.equal(some.stdout, '');
  assert.deepEqual(some.stderr.trim().split('\n'), ['test: no unit test file matches `nosuchword`']);
  // an integration word under --unit selects no unit file
  const it = run('--unit', 'it/state');
  assert.equal(it.code, 1);
  assert.match(it.stderr, /^test: no unit test file matches `it\/state`\n$/);
});
