import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, KS, lines, piped, runSync, start } from './helpers/spawn.mjs';

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
  const fused = runSync(['filter', 'r.latency_ms > 50', '+', 'map', '({user: r.user, ms: r.latency_ms * 1000})'], input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.deepEqual(lines(fused.stdout), want);
  const p = await piped([['filter', 'r.latency_ms > 50'], ['map', '({user: r.user, ms: r.latency_ms * 1000})']], input);
  assert.deepEqual(p.codes, [0, 0]);
  assert.equal(p.stdout, fused.stdout);
  // jq is installed by .ci/run: the reference the issue names.
  const jq = runSync(['-c', 'select(.latency_ms > 50) | {user, ms: (.latency_ms*1000)}'], input, { bin: 'jq' });
  assert.equal(jq.code, 0, 'jq must be installed for this test (apt-get install jq)');
  assert.equal(fused.stdout, jq.stdout);
});

test('piped and fused runs of every stateless stage are byte-identical', async () => {
  const input = clicks(500) + '{"$kstream":{"watermark":1767225600400}}\n' + clicks(50, 9);
  const chains = [
    [['filter', 'r.ok && r.page !== "/cart"'], ['map', '({...r, slow: r.latency_ms > 100})']],
    [['map', '({u: r.user, tags: [r.page, r.user]})'], ['flatmap', 'r.tags.map((t, i) => ({u: r.u, t, i}))']],
    [['flatmap', '[r, r]'], ['filter', 'r.latency_ms % 2 === 0'], ['map', 'r.latency_ms']],
    [['map', 'undefined'], ['map', 'r === null']],
  ];
  for (const chain of chains) {
    const fusedArgs = chain.flatMap((s, i) => (i ? ['+', ...s] : s));
    const fused = runSync(fusedArgs, input);
    assert.equal(fused.code, 0, fused.stderr);
    const p = await piped(chain, input);
    assert.deepEqual(p.codes, chain.map(() => 0), p.stderr.join(''));
    assert.equal(p.stdout, fused.stdout, `chain ${JSON.stringify(chain)}`);
    assert.ok(fused.stdout.length > 0);
  }
  // Control lines pass through every stage, in order, and --no-watermarks drops them.
  const withWm = runSync(['filter', 'true'], input);
  assert.match(withWm.stdout, /^\{"\$kstream":\{"watermark":1767225600400\}\}$/m);
  const without = runSync(['filter', 'true', '--no-watermarks'], input);
  assert.doesNotMatch(without.stdout, /\$kstream/);
  assert.equal(lines(without.stdout).length, 550);
});

test('a record whose line would read as a control line is refused at a pipe, not turned into one', () => {
  const r = runSync(['map', '({"$kstream": {"watermark": r.a}})'], '{"a":1}\n');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'kstream: stdin line 1: the record reads as a kstream control line in a pipe (`{"$kstream":{…}}` is reserved) — read it as an envelope (--format envelope), or join the next stage with `+`\n');
  // only the names kstream writes are controls: any other $kstream object is data
  const d = runSync(['filter', 'true'], '{"$kstream":{"note":"mine"}}\n');
  assert.equal(d.stdout, '{"$kstream":{"note":"mine"}}\n');
});

test('records that look like other tools\' control objects are data in every stage, piped and fused', async () => {
  // MongoDB operators and extended JSON: one `$` key, exactly the shape the old control lines had.
  const input = '{"$set":{"a":1}}\n{"$date":"x"}\n{"$watermark":5}\n{"$kstream":5}\n{"$kstream":{"a":1,"b":2}}\n{"x":1}\n';
  const want = input.split('\n').filter(Boolean);
  for (const args of [['filter', 'true'], ['map', 'r'], ['filter', 'true', '+', 'map', 'r'], ['dedupe', '--by', 'JSON.stringify(r)', '--within', '1h', '--processing-time']]) {
    const r = runSync(args, input);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => JSON.stringify(JSON.parse(l))), want, args.join(' '));
  }
  const p = await piped([['filter', 'true'], ['map', 'r']], input);
  assert.deepEqual(p.stdout.split('\n').filter(Boolean), want);
  const st = runSync(['stats', '--json'], input);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(JSON.parse(st.stdout).count, 6);
  // and a real control line is still one: it is not counted as a record
  const ctl = runSync(['stats', '--json'], input + '{"$kstream":{"watermark":7}}\n');
  assert.equal(JSON.parse(ctl.stdout).count, 6);
});

test('no silent switch of clocks: a piped stage that needs a timestamp, key or headers a pipe lacks stops with the fix', () => {
  const input = '{"t":1000,"k":"a"}\n{"t":2000,"k":"b"}\n';
  for (const args of [['window', 'tumbling', '1m'], ['dedupe', '--by', 'r.k', '--within', '1m'], ['gen', '--count', '1', '+', 'window', 'hopping', '1m', '--every', '30s']]) {
    const r = runSync(args, input);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /needs an event time, and records (read from a pipe|made by `gen`) carry no timestamp — take it from the record with --time r\.<field>, read envelopes .*--envelope`\)(, fuse the stages with `\+` after `consume`)?, or ask for the wall clock with --processing-time/);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one line');
  }
  for (const expr of ['({k: key})', 'ts > 5', 'headers.length', '`${key}`']) {
    const r = runSync(['map', expr], input);
    assert.equal(r.code, 2, expr);
    assert.match(r.stderr, /reads `(key|ts|headers)`, which records read from a pipe do not carry — read envelopes/);
  }
  // fields and object keys of the same names are no context reads, nor names the expression binds itself
  for (const expr of ['({key: r.k, ts: r.t, headers: 1})', '[r.t].some((key) => key > 1)', '(({ts}) => ts)({ts: r.t})', '[r.k].map(function (headers) { return headers })', '(() => { const ts = r.t; return ts })()']) {
    const ok = runSync(['map', expr], input);
    assert.equal(ok.code, 0, `${expr}: ${ok.stderr}`);
  }
  // after aggregate, records have a key and a time again (fused): a later stage may use them
  const after = runSync(['window', 'tumbling', '1m', '--time', 'r.t', '+', 'aggregate', 'count', '--by', 'r.k', '+', 'filter', 'key !== null && ts > 0', '+', 'dedupe', '--by', 'key', '--within', '1h'], input);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(lines(after.stdout).filter((o) => !o.$kstream).length, 2);
  // a hint never tells a fused run to fuse
  const fusedNoTs = runSync(['filter', 'true', '+', 'window', 'tumbling', '1m'], input);
  assert.equal(fusedNoTs.code, 2);
  assert.doesNotMatch(fusedNoTs.stderr, /fuse the stages/);
  // what was asked for explicitly still works
  assert.equal(runSync(['window', 'tumbling', '1m', '--processing-time'], input).code, 0);
  assert.equal(runSync(['dedupe', '--by', 'r.k', '--within', '1m', '--processing-time'], input).code, 0);
  assert.equal(runSync(['window', 'tumbling', '1m', '--time', 'r.t'], input).code, 0);
});

test('envelopes through a pipe: time, key and headers come from the envelope; piped equals fused', async () => {
  const env = (o, t, k, v) => JSON.stringify({ topic: 't', partition: 0, offset: o, timestamp: t, key: k, headers: [{ key: 'h', value: String(o) }], value: v });
  const input = [env(0, 1000, 'a', { n: 1 }), env(1, 61000, 'b', { n: 2 }), env(2, 62000, 'a', 'text'), env(3, 130000, null, null)].join('\n') + '\n';
  const stages = [['window', 'tumbling', '1m', '--envelope'], ['aggregate', 'count', '--envelope']];
  const p = await piped(stages, input);
  assert.deepEqual(p.codes, [0, 0], p.stderr.join(''));
  const fused = runSync([...stages[0], '+', ...stages[1]], input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.equal(p.stdout, fused.stdout);
  const results = lines(fused.stdout).filter((o) => !o.$kstream).map((o) => [o.value.window.start, o.value.count, o.timestamp]);
  assert.deepEqual(results, [[0, 1, 1000], [60000, 2, 62000], [120000, 1, 130000]]);
  const m = runSync(['map', '({key, ts, h: headers[0].value, r})', '--envelope'], input);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(lines(m.stdout).map((o) => o.value), [
    { key: 'a', ts: 1000, h: '0', r: { n: 1 } }, { key: 'b', ts: 61000, h: '1', r: { n: 2 } }, { key: 'a', ts: 62000, h: '2', r: 'text' }, { key: null, ts: 130000, h: '3', r: null },
  ]);
  // an envelope without a timestamp is an invalid time — not the wall clock, which would make the next record late
  const noTs = JSON.stringify({ topic: 't', partition: 0, offset: 9, timestamp: null, key: 'a', headers: [], value: { n: 9 } });
  const w = runSync(['window', 'tumbling', '1m', '--envelope', '--on-error', 'skip', '+', 'aggregate', 'count', '--envelope'], [env(0, 1000, 'a', 1), noTs, env(1, 2000, 'a', 2)].join('\n') + '\n');
  assert.equal(w.code, 0, w.stderr);
  assert.deepEqual(lines(w.stdout).filter((o) => !o.$kstream).map((o) => o.value.count), [2]);
  assert.match(w.stderr, /invalid-time=1/);
  // a line that is no envelope follows --on-error
  const bad = runSync(['filter', 'true', '--envelope'], input + '{"x":1}\n');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^kstream: stdin line 5: envelope has no `value` field — --envelope reads lines written by `kstream consume --format envelope`/);
  assert.equal(bad.stdout, input, 'the lines before it are written');
  const skip = runSync(['filter', 'true', '--envelope', '--on-error', 'skip'], input + '{"x":1}\n');
  assert.equal(skip.code, 0, skip.stderr);
  assert.equal(skip.stdout, input);
});

test('a flag before an expression `true` or `false` does not swallow it; `--` passes an expression starting with -', () => {
  const input = '{"a":1}\n{"a":2}\n';
  assert.equal(runSync(['filter', '-qv', 'true'], input).stdout, input);
  const neg = runSync(['map', '--', '-r.a'], input);
  assert.equal(neg.code, 0, neg.stderr);
  assert.equal(neg.stdout, '-1\n-2\n');
  const t = runSync(['filter', '--quiet', 'true'], input);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout, input);
  const f = runSync(['filter', '--quiet', 'false', '--no-watermarks'], input);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, '');
});

test('run "a | b" is the same as a + b', () => {
  const input = clicks(300);
  const a = runSync(['run', `filter 'r.ok' | map '{p: r.page}'`], input);
  const b = runSync(['filter', 'r.ok', '+', 'map', '{p: r.page}'], input);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('a malformed line fails with its line number after emitting the records before it', () => {
  const input = '{"a":1}\n{"a":2}\n{"a":3,}\n{"a":4}\n';
  const r = runSync(['map', 'r.a'], input);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '1\n2\n');
  assert.match(r.stderr, /^kstream: stdin line 3: invalid JSON at column 8: unexpected '\}' — .*--on-error skip/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
});

test('--on-error skip keeps every good record and reports the count', () => {
  const input = '{"a":1}\n\n{"a":2,}\r\nnot json\n{"a":3}\r\n   {"a":4}   \n{"a":5}';
  const r = runSync(['map', 'r.a', '--on-error', 'skip'], input);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1\n3\n4\n5\n');
  assert.match(r.stderr, /stdin: skipped=2/);
});

test('--on-error dlq=<file> sets bad records aside with stage, reason and position', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-'));
  const dlq = path.join(dir, 'bad.ndjson');
  const r = runSync(['map', 'r.a.b', '--on-error', `dlq=${dlq}`], '{"a":{"b":1}}\n{"x":1}\n{"a":{"b":3}}\n');
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
  const r = runSync(['filter', 'r.a.b > 1'], '{"a":{"b":2}}\n{"c":1}\n');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '{"a":{"b":2}}\n');
  assert.match(r.stderr, /stdin line 2: filter expression `r\.a\.b > 1` threw TypeError/);
  const ref = runSync(['filter', 'latency_ms > 5'], '{"latency_ms":9}\n');
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
    const r = runSync(args, '');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  }
});

test('--help for every command shows usage and a pasteable example', async () => {
  const { COMMAND_NAMES } = await import('../dist/src/pipeline/registry.js');
  const top = runSync(['--help']);
  assert.equal(top.code, 0);
  for (const name of COMMAND_NAMES) {
    if (!fs.existsSync(new URL(`../dist/commands/${name}.js`, import.meta.url))) continue;
    assert.match(top.stdout, new RegExp(`^  ${name} `, 'm'));
    const h = runSync([name, '--help']);
    assert.equal(h.code, 0, name);
    const spec = (await import(`../dist/commands/${name}.js`)).default;
    assert.ok(h.stdout.startsWith(`Usage: kstream ${name}`), `${name} usage: ${h.stdout}`);
    assert.ok(h.stdout.includes(`\n  ${spec.summary}\n`), `${name}: the one-line summary`);
    assert.match(h.stdout, /Examples:\n  (\S.* )?kstream /, `${name} examples, indented`);
    assert.doesNotMatch(h.stdout, /default: true/, `${name}: switches show no default`);
    assert.equal(runSync(['help', name]).stdout, h.stdout, `kstream help ${name}`);
  }
  // run reads a pipeline written as one string; its help was "unknown command `--help`"
  const run = runSync(['run', '--help']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^kstream run "<pipeline>"\n/);
  assert.match(run.stdout, /Examples:\n  kstream run "gen --count 10 \| filter 'r\.ok'"/);
  assert.equal(runSync(['help', 'run']).stdout, run.stdout);
  // and its example runs
  assert.equal(runSync(['run', "gen --count 10 --seed 1 | filter 'true'"]).stdout.trim().split('\n').length, 10);
});

test('unknown options are named as typed, with the nearest one', () => {
  const a = runSync(['filter', 'true', '--on-eror', 'skip']);
  assert.equal(a.code, 2);
  assert.equal(a.stderr, 'kstream: unknown option `--on-eror` for `filter` — did you mean `--on-error`? see `kstream filter --help`\n');
  const b = runSync(['window', 'tumbling', '1m', '--time', 'r.t', '--gace', '5s']);
  assert.match(b.stderr, /unknown option `--gace` for `window` — did you mean `--grace`\?/);
  const c = runSync(['map', 'r', '--zzzzzz']);
  assert.equal(c.stderr, 'kstream: unknown option `--zzzzzz` for `map` — see `kstream map --help`\n');
  // typed values are checked once, naming the flag
  const d = runSync(['consume', 't', '--format', 'jsn']);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /invalid --format `jsn` — use value, envelope, raw/);
  const e = runSync(['window', 'tumbling', '1m', '--time', 'r.t', '--grace', 'soon']);
  assert.match(e.stderr, /invalid --grace `soon`/);
});

test('a closed stdout (| head) ends quietly with exit 0', () => {
  const r = runSync(`seq 1 300000 | sed 's/.*/{"n":&}/' | ${KS} map 'r.n * 2' | head -n 3; echo "kstream exit \${PIPESTATUS[2]}" >&2`, { shell: 'bash' });
  assert.equal(r.stdout, '2\n4\n6\n');
  assert.equal(r.stderr, 'kstream exit 0\n');
});

test('threaded and single-threaded runs over a large input give identical output and absolute error lines', () => {
  const input = clicks(120_000); // ~11 MB: beyond the inline threshold, so workers take over
  const args = ['filter', 'r.latency_ms > 50', '+', 'map', '({user: r.user, ms: r.latency_ms * 1000})'];
  const threaded = runSync(args, input, { env: { KSTREAM_WORKERS: '2' } });
  const single = runSync(args, input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(threaded.code, 0, threaded.stderr);
  assert.equal(threaded.stdout, single.stdout);
  assert.ok(threaded.stdout.length > 1_000_000);
  // Filter alone forwards large slices of every chunk: each worker result must carry exactly its own bytes.
  const keep = runSync(['filter', 'r.latency_ms > 50'], input, { env: { KSTREAM_WORKERS: '2' } });
  const keepSingle = runSync(['filter', 'r.latency_ms > 50'], input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal(keep.stdout, keepSingle.stdout);
  assert.equal(keep.stdout, input.split('\n').filter((l) => l && JSON.parse(l).latency_ms > 50).map((l) => l + '\n').join(''));
  const bad = input.split('\n');
  bad[99_999] = '{"latency_ms":oops}';
  const r = runSync(args, bad.join('\n'), { env: { KSTREAM_WORKERS: '2' } });
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
  const single = runSync(args, input, { env: { KSTREAM_WORKERS: '0' } });
  assert.equal(single.code, 0, single.stderr);
  // through a pipe (one thread: see parallel.ts)
  const file = path.join(os.tmpdir(), `kstream-pipe-${process.pid}.ndjson`);
  fs.writeFileSync(file, input);
  const pipedRun = runSync(`cat "${file}" | ${KS} "$@"`, { shell: 'bash', args, env: { KSTREAM_WORKERS: '2' } });
  assert.equal(pipedRun.code, 0, pipedRun.stderr);
  assert.equal(pipedRun.stdout, single.stdout);
  // a file on stdin whose position is past its first lines (as after `read` in a shell): reading starts there
  const skip = input.indexOf('\n', 3_000_000) + 1;
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, Buffer.alloc(skip), 0, skip, null);
  const atOffset = runSync(args, { stdinFd: fd, env: { KSTREAM_WORKERS: '2' } });
  fs.closeSync(fd);
  fs.rmSync(file);
  assert.equal(atOffset.code, 0, atOffset.stderr);
  assert.equal(atOffset.stdout, runSync(args, input.slice(skip), { env: { KSTREAM_WORKERS: '0' } }).stdout);
  assert.ok(atOffset.stdout.length > 0 && atOffset.stdout.length < single.stdout.length);
});

test('a threaded run leaves stdin read to its end, and takes a last line without a newline', () => {
  const input = clicks(120_000).trimEnd(); // no final newline
  const file = path.join(os.tmpdir(), `kstream-end-${process.pid}.ndjson`);
  fs.writeFileSync(file, input);
  try {
    for (const workers of ['0', '2']) {
      // the command after kstream shares its stdin: it must find nothing left, as after a single-threaded run
      const r = runSync(`(${KS} map 'r.user' | tail -n 1; wc -c) < "${file}"`, { shell: 'bash', env: { KSTREAM_WORKERS: workers } });
      assert.equal(r.code, 0, r.stderr);
      const last = JSON.parse(input.slice(input.lastIndexOf('\n') + 1)).user;
      assert.equal(r.stdout, `${JSON.stringify(last)}\n0\n`, `KSTREAM_WORKERS=${workers}`);
    }
  } finally {
    fs.rmSync(file);
  }
});

test('a line on a pipe comes out before the pipe ends or fills a read buffer', async () => {
  // stdin stays open and stdout is read here, line by line (collect: false)
  const proc = start(['map', 'r.a * 10'], { stdin: 'pipe', collect: false, group: false });
  const { child } = proc;
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
  assert.equal((await proc.exited).code, 0);
});

test('invalid UTF-8 names its line and keeps the records before it', () => {
  const buf = Buffer.concat([Buffer.from('{"a":"é"}\n{"a":"ok"}\n'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]), Buffer.from('{"a":3}\n')]);
  const r = runSync(['map', 'r.a'], buf);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '"é"\n"ok"\n');
  assert.match(r.stderr, /stdin line 3: invalid UTF-8/);
});

test('a 100 MB line is a record like any other; beyond KSTREAM_MAX_LINE it fails naming its line', () => {
  const big = '{"a":2,"big":"' + 'x'.repeat(100 * 1024 * 1024) + '"}';
  const input = '{"a":1}\n' + big + '\n{"a":3}\n';
  const ok = runSync(['map', 'r.a'], input);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '1\n2\n3\n');
  for (const workers of ['0', '2']) {
    const r = runSync(['map', 'r.a'], input, { env: { KSTREAM_MAX_LINE: '1m', KSTREAM_WORKERS: workers } });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '1\n');
    assert.match(r.stderr, /^kstream: stdin line 2: line longer than 1048576 bytes — .*KSTREAM_MAX_LINE/);
  }
});

test('the error line is red by stderr, not stdout: NO_COLOR wins, FORCE_COLOR forces, a redirected stderr gets none', () => {
  // `script` gives the command a terminal, as a user's shell does
  const { NO_COLOR, FORCE_COLOR, ...env } = process.env;
  const tty = (cmd) => spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env }).stdout;
  const red = '\u001b[31mkstream:\u001b[39m invalid filter expression';
  const cli = `"${process.execPath}" "${CLI}" filter 'r.' < /dev/null`;
  // stdout redirected, stderr a terminal: red (the prefix followed stdout's terminal)
  assert.ok(tty(`${cli} > /dev/null`).startsWith(red), 'stderr on a terminal is coloured');
  // NO_COLOR on a terminal: plain (chalk's default instance ignores NO_COLOR)
  assert.ok(tty(`NO_COLOR=1 ${cli}`).startsWith('kstream: invalid filter expression'), 'NO_COLOR');
  // stderr redirected, stdout a terminal: plain
  assert.equal(tty(`${cli} 2>&1 >/dev/tty | cat`).includes('\u001b['), false, 'stderr into a pipe');
  // no terminal at all, FORCE_COLOR: red
  const forced = spawnSync('bash', ['-c', `FORCE_COLOR=1 ${cli}`], { encoding: 'utf8', env });
  assert.ok(forced.stderr.startsWith(red), forced.stderr);
});

test('a one-letter option takes its value attached, as getopt reads it (-n3, -p0); not after -- or as another option\'s value', () => {
  assert.equal(runSync(['gen', '-n3', '--seed', '1']).stdout.trim().split('\n').length, 3);
  // `-n3` was "unknown option `-3`"
  const r = runSync(['gen', '-n', '2', '--seed', '1', '+', 'map', '--', '-r.latency_ms']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 2);
});
