import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { kstream, piped, lines, CLI } from './helpers/cli.mjs';

const clicks = (n, seed = 1) => {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pages = ['/home', '/search', '/cart', '/blog/kafka'];
  let out = '';
  for (let i = 0; i < n; i++) {
    out += JSON.stringify({ ts: 1767225600000 + i, user: `u${Math.floor(rnd() * 100)}`, page: pages[Math.floor(rnd() * 4)], latency_ms: Math.floor(rnd() * 120), ok: rnd() > 0.1 }) + '\n';
  }
  return out;
};

test('filter + map give what the equivalent jq program gives (piped and fused)', async () => {
  const input = clicks(2000);
  const want = input.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.latency_ms > 50).map((r) => ({ user: r.user, ms: r.latency_ms * 1000 }));
  const fused = kstream(['filter', 'r.latency_ms > 50', '+', 'map', '({user: r.user, ms: r.latency_ms * 1000})'], input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.deepEqual(lines(fused.stdout), want);
  const p = await piped([['filter', 'r.latency_ms > 50'], ['map', '({user: r.user, ms: r.latency_ms * 1000})']], input);
  assert.deepEqual(p.codes, [0, 0]);
  assert.equal(p.stdout, fused.stdout);
  // jq is installed by .ci/run: the reference the issue names.
  const jq = spawnSync('jq', ['-c', 'select(.latency_ms > 50) | {user, ms: (.latency_ms*1000)}'], { input, encoding: 'utf8' });
  assert.equal(jq.status, 0, 'jq must be installed for this test (apt-get install jq)');
  assert.equal(fused.stdout, jq.stdout);
});

test('piped and fused runs of every stateless stage are byte-identical', async () => {
  const input = clicks(500) + '{"$watermark":1767225600400}\n' + clicks(50, 9);
  const chains = [
    [['filter', 'r.ok && r.page !== "/cart"'], ['map', '({...r, slow: r.latency_ms > 100})']],
    [['map', '({u: r.user, tags: [r.page, r.user]})'], ['flatmap', 'r.tags.map((t, i) => ({u: r.u, t, i}))']],
    [['flatmap', '[r, r]'], ['filter', 'r.latency_ms % 2 === 0'], ['map', 'r.latency_ms']],
    [['map', 'undefined'], ['map', 'r === null']],
  ];
  for (const chain of chains) {
    const fusedArgs = chain.flatMap((s, i) => (i ? ['+', ...s] : s));
    const fused = kstream(fusedArgs, input);
    assert.equal(fused.code, 0, fused.stderr);
    const p = await piped(chain, input);
    assert.deepEqual(p.codes, chain.map(() => 0), p.stderr.join(''));
    assert.equal(p.stdout, fused.stdout, `chain ${JSON.stringify(chain)}`);
    assert.ok(fused.stdout.length > 0);
  }
  // Control lines pass through every stage, in order, and --no-watermarks drops them.
  const withWm = kstream(['filter', 'true'], input);
  assert.match(withWm.stdout, /^\{"\$watermark":1767225600400\}$/m);
  const without = kstream(['filter', 'true', '--no-watermarks'], input);
  assert.doesNotMatch(without.stdout, /\$watermark/);
  assert.equal(lines(without.stdout).length, 550);
});

test('run "a | b" is the same as a + b', () => {
  const input = clicks(300);
  const a = kstream(['run', `filter 'r.ok' | map '{p: r.page}'`], input);
  const b = kstream(['filter', 'r.ok', '+', 'map', '{p: r.page}'], input);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('a malformed line fails with its line number after emitting the records before it', () => {
  const input = '{"a":1}\n{"a":2}\n{"a":3,}\n{"a":4}\n';
  const r = kstream(['map', 'r.a'], input);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '1\n2\n');
  assert.match(r.stderr, /^kstream: stdin line 3: invalid JSON at column 8: unexpected '\}' — .*--on-error skip/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
});

test('--on-error skip keeps every good record and reports the count', () => {
  const input = '{"a":1}\n\n{"a":2,}\r\nnot json\n{"a":3}\r\n   {"a":4}   \n{"a":5}';
  const r = kstream(['map', 'r.a', '--on-error', 'skip'], input);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1\n3\n4\n5\n');
  assert.match(r.stderr, /stdin: skipped=2/);
});

test('--on-error dlq=<file> sets bad records aside with stage, reason and position', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-'));
  const dlq = path.join(dir, 'bad.ndjson');
  const r = kstream(['map', 'r.a.b', '--on-error', `dlq=${dlq}`], '{"a":{"b":1}}\n{"x":1}\n{"a":{"b":3}}\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1\n3\n');
  const dead = lines(fs.readFileSync(dlq, 'utf8'));
  assert.equal(dead.length, 1);
  assert.equal(dead[0].stage, 'map');
  assert.equal(dead[0].source, 'stdin line 2');
  assert.equal(dead[0].original, '{"x":1}');
  assert.match(dead[0].reason, /TypeError/);
});

test('an expression that throws is a record error naming the expression and position', () => {
  const r = kstream(['filter', 'r.a.b > 1'], '{"a":{"b":2}}\n{"c":1}\n');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '{"a":{"b":2}}\n');
  assert.match(r.stderr, /stdin line 2: filter expression `r\.a\.b > 1` threw TypeError/);
  const ref = kstream(['filter', 'latency_ms > 5'], '{"latency_ms":9}\n');
  assert.match(ref.stderr, /fields are under r, e\.g\. r\.latency_ms/);
});

test('usage errors exit 2 with one line and a hint', () => {
  const cases = [
    [['map', 'r.a +'], /invalid map expression `r\.a \+`/],
    [['filter', 'r.a', '--bogus'], /unknown option `--bogus`.*kstream filter --help/],
    [['filtr', 'x'], /unknown command `filtr`.*did you mean `filter`/],
    [['map'], /missing <expr> for `map`/],
    [['map', 'r', '--on-error', 'maybe'], /invalid --on-error `maybe`/],
    [['filter', 'x', '+'], /empty stage/],
  ];
  for (const [args, re] of cases) {
    const r = kstream(args, '');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  }
});

test('--help for every command shows usage and a pasteable example', async () => {
  const { COMMAND_NAMES } = await import('../dist/src/pipeline/registry.js');
  const top = kstream(['--help']);
  assert.equal(top.code, 0);
  for (const name of COMMAND_NAMES) {
    if (!fs.existsSync(new URL(`../dist/commands/${name}.js`, import.meta.url))) continue;
    assert.match(top.stdout, new RegExp(`^  ${name} `, 'm'));
    const h = kstream([name, '--help']);
    assert.equal(h.code, 0, name);
    assert.ok(h.stdout.includes(`$ kstream ${name}`), `${name} usage: ${h.stdout}`);
    assert.match(h.stdout, /Examples:\n.*kstream /, `${name} examples`);
  }
});

test('a closed stdout (| head) ends quietly with exit 0', () => {
  const r = spawnSync('bash', ['-c', `seq 1 300000 | sed 's/.*/{"n":&}/' | "${process.execPath}" "${CLI}" map 'r.n * 2' | head -n 3; echo "kstream exit \${PIPESTATUS[2]}" >&2`], { encoding: 'utf8' });
  assert.equal(r.stdout, '2\n4\n6\n');
  assert.equal(r.stderr, 'kstream exit 0\n');
});

test('threaded and single-threaded runs over a large input give identical output and absolute error lines', () => {
  const input = clicks(120_000); // ~11 MB: beyond the inline threshold, so workers take over
  const args = ['filter', 'r.latency_ms > 50', '+', 'map', '({user: r.user, ms: r.latency_ms * 1000})'];
  const threaded = kstream(args, input, { env: { KSTREAM_WORKERS: '2' } });
  const single = kstream(args, input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(threaded.code, 0, threaded.stderr);
  assert.equal(threaded.stdout, single.stdout);
  assert.ok(threaded.stdout.length > 1_000_000);
  // Filter alone forwards large slices of every chunk: each worker result must carry exactly its own bytes.
  const keep = kstream(['filter', 'r.latency_ms > 50'], input, { env: { KSTREAM_WORKERS: '2' } });
  const keepSingle = kstream(['filter', 'r.latency_ms > 50'], input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal(keep.stdout, keepSingle.stdout);
  assert.equal(keep.stdout, input.split('\n').filter((l) => l && JSON.parse(l).latency_ms > 50).map((l) => l + '\n').join(''));
  const bad = input.split('\n');
  bad[99_999] = '{"latency_ms":oops}';
  const r = kstream(args, bad.join('\n'), { env: { KSTREAM_WORKERS: '2' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /stdin line 100000: invalid JSON at column 15/);
  const before = single.stdout.split('\n').filter(Boolean).length;
  const got = r.stdout.split('\n').filter(Boolean).length;
  assert.ok(got > 0 && got <= before);
  const expected = bad.slice(0, 99_999).map((l) => JSON.parse(l)).filter((x) => x.latency_ms > 50).length;
  assert.equal(got, expected, 'every record before the bad line is written');
});

test('a pipe, and a file on stdin at an offset, give what a single-threaded run gives', () => {
  const input = clicks(120_000);
  const args = ['filter', 'r.latency_ms > 50', '+', 'map', '({user: r.user, ms: r.latency_ms * 1000})'];
  const single = kstream(args, input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(single.code, 0, single.stderr);
  // through a pipe (one thread: see parallel.ts)
  const file = path.join(os.tmpdir(), `kstream-pipe-${process.pid}.ndjson`);
  fs.writeFileSync(file, input);
  const pipedRun = spawnSync('bash', ['-c', `cat "${file}" | "${process.execPath}" "${CLI}" "$@"`, 'bash', ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, KSTREAM_WORKERS: '2' } });
  assert.equal(pipedRun.status, 0, pipedRun.stderr);
  assert.equal(pipedRun.stdout, single.stdout);
  // a file on stdin whose position is past its first lines (as after `read` in a shell): reading starts there
  const skip = input.indexOf('\n', 3_000_000) + 1;
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, Buffer.alloc(skip), 0, skip, null);
  const atOffset = spawnSync(process.execPath, [CLI, ...args], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, KSTREAM_WORKERS: '2' } });
  fs.closeSync(fd);
  fs.rmSync(file);
  assert.equal(atOffset.status, 0, atOffset.stderr);
  assert.equal(atOffset.stdout, kstream(args, input.slice(skip), { env: { KSTREAM_WORKERS: '0' } }).stdout);
  assert.ok(atOffset.stdout.length > 0 && atOffset.stdout.length < single.stdout.length);
});

test('a threaded run leaves stdin read to its end, and takes a last line without a newline', () => {
  const input = clicks(120_000).trimEnd(); // no final newline
  const file = path.join(os.tmpdir(), `kstream-end-${process.pid}.ndjson`);
  fs.writeFileSync(file, input);
  try {
    for (const workers of ['0', '2']) {
      // the command after kstream shares its stdin: it must find nothing left, as after a single-threaded run
      const r = spawnSync('bash', ['-c', `("${process.execPath}" "${CLI}" map 'r.user' | tail -n 1; wc -c) < "${file}"`], { encoding: 'utf8', env: { ...process.env, KSTREAM_WORKERS: workers } });
      assert.equal(r.status, 0, r.stderr);
      const last = JSON.parse(input.slice(input.lastIndexOf('\n') + 1)).user;
      assert.equal(r.stdout, `${JSON.stringify(last)}\n0\n`, `KSTREAM_WORKERS=${workers}`);
    }
  } finally {
    fs.rmSync(file);
  }
});

test('a line on a pipe comes out before the pipe ends or fills a read buffer', async () => {
  const child = spawn(process.execPath, [CLI, 'map', 'r.a * 10'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
  child.stdout.setEncoding('utf8');
  const next = () => new Promise((resolve) => child.stdout.once('data', resolve));
  // the second line is written only after the first one's result arrived: a reader waiting for more would hang
  let got = next();
  child.stdin.write('{"a":1}\n');
  assert.equal(await got, '10\n');
  got = next();
  child.stdin.write('{"a":2}\n{"a":3}');
  assert.equal(await got, '20\n');
  got = next();
  child.stdin.end('\n');
  assert.equal(await got, '30\n');
  assert.equal(await new Promise((resolve) => child.on('close', resolve)), 0);
});

test('invalid UTF-8 names its line and keeps the records before it', () => {
  const buf = Buffer.concat([Buffer.from('{"a":"é"}\n{"a":"ok"}\n'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]), Buffer.from('{"a":3}\n')]);
  const r = kstream(['map', 'r.a'], buf);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '"é"\n"ok"\n');
  assert.match(r.stderr, /stdin line 3: invalid UTF-8/);
});

test('a 100 MB line is a record like any other; beyond KSTREAM_MAX_LINE it fails naming its line', () => {
  const big = '{"a":2,"big":"' + 'x'.repeat(100 * 1024 * 1024) + '"}';
  const input = '{"a":1}\n' + big + '\n{"a":3}\n';
  const ok = kstream(['map', 'r.a'], input);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '1\n2\n3\n');
  for (const workers of ['0', '2']) {
    const r = kstream(['map', 'r.a'], input, { env: { KSTREAM_MAX_LINE: '1m', KSTREAM_WORKERS: workers } });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '1\n');
    assert.match(r.stderr, /^kstream: stdin line 2: line longer than 1048576 bytes — .*KSTREAM_MAX_LINE/);
  }
});
