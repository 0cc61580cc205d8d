// Ctrl-C while an expression never returns: the second Ctrl-C ends the run on Node, Bun and Deno. The terminal
// signals the whole foreground process group, so the tests start the pipeline as a group of its own and signal it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI } from './helpers/spawn.mjs';

const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const RUNTIMES = { node: `"${process.execPath}"`, bun: `"${bin('bun')}"`, deno: `"${bin('deno')}" run -A` };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` under bash as a new process group; returns it with its stderr collected and its exit awaited. */
function group(cmd) {
  const p = spawn('bash', ['-c', cmd], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  p.stderr.on('data', (d) => (stderr += d));
  p.stdout.on('data', (d) => (stdout += d));
  const done = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
  const kill = () => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  return { p, done, kill, out: () => ({ stdout, stderr }), ctrlC: () => process.kill(-p.pid, 'SIGINT') };
}

/** Resolves to the exit, or to 'running' after `ms`. */
const within = (done, ms) => Promise.race([done, sleep(ms).then(() => 'running')]);

// the watchers of this run only (its process group): test files run in parallel, and other runs have watchers too
const relays = (group) => spawnSync('pgrep', ['-g', String(group), '-f', 'KSTREAM_PID'], { encoding: 'utf8' }).stdout.trim();

for (const [name, rt] of Object.entries(RUNTIMES)) {
  test(`${name}: an expression that never returns is ended by the second Ctrl-C, with a line saying why`, { timeout: 30_000 }, async (t) => {
    const g = group(`echo '{}' | exec ${rt} "${CLI}" map '(()=>{while(true){}})()'`);
    t.after(g.kill); // a failing run must not leave the loop spinning
    await sleep(name === 'node' ? 1000 : 2500); // started and inside the loop
    g.ctrlC();
    assert.equal(await within(g.done, 1500), 'running', 'the first Ctrl-C cannot reach a loop (and would drain)');
    g.ctrlC();
    const exit = await within(g.done, 3000);
    assert.notEqual(exit, 'running', 'the second Ctrl-C ended it');
    assert.equal(exit.code, 137);
    assert.match(g.out().stderr, /^kstream: stopped at the second Ctrl-C with SIGKILL: JavaScript was still running \(an expression that never returns\?\)\n/);
  });
}

test('a run that is not stuck still ends by its own handler: drains on the first Ctrl-C, exits 130, leaves no watcher', { timeout: 30_000 }, async (t) => {
  // gen is a source, not a pipe reader: the first Ctrl-C stops it and the run ends cleanly
  const g = group(`exec "${process.execPath}" "${CLI}" gen --rate 1000 + filter 'true'`);
  t.after(g.kill);
  // Ctrl-C once records flow (a fixed sleep failed on a loaded machine, where start-up alone took most of it)
  for (let waited = 0; g.out().stdout.split('\n').length <= 100 && waited < 15_000; waited += 50) await sleep(50);
  g.ctrlC();
  const exit = await within(g.done, 5000);
  assert.notEqual(exit, 'running');
  assert.equal(exit.code, 130);
  const lines = g.out().stdout.trim().split('\n');
  assert.ok(lines.length > 100, `records before the stop: ${lines.length}`);
  for (const l of lines) JSON.parse(l); // every line whole: nothing cut mid-batch
  assert.doesNotMatch(g.out().stderr, /SIGKILL/);
  await sleep(700);
  assert.equal(relays(g.p.pid), '', 'the watcher exits with its run');
});

test('the watcher leaves with its run: a caller reading stderr to its end before reaping kstream does not wait on it', { timeout: 30_000 }, () => {
  // perl's backticks read to EOF, then reap: the watcher shared that stderr and stayed while kstream was an unreaped
  // zombie (`kill -0` says yes to one), so this hung for good (Python's subprocess.run with a timeout likewise)
  const r = spawnSync('perl', ['-e', `print length(\`"${process.execPath}" "${CLI}" gen --count 1 --seed 1 2>&1\`)`], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.error, undefined, 'it returned');
  assert.equal(r.status, 0);
  assert.ok(Number(r.stdout) > 20, r.stdout);
});
