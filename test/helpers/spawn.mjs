// The one way tests and benches run processes: the built CLI the way a user does, other programs (kcat, jq, bash),
// shell command lines and pipelines of kstream processes.
//
//   runSync(cmd, [input], opts) / run(cmd, [input], opts)   to completion → { code, signal, stdout, stderr }
//   start(cmd, opts)                        a long-running process: its output so far, kill(), exited
//   piped(stages, input, opts)              kstream stages as separate processes joined by real OS pipes
//
// `cmd` is an array of kstream arguments (`['consume', 't', '--exit']`), or a shell command line as one string
// (run by `sh -c`; `$KS` and the exported KS both stand for the CLI: `$KS gen … | $KS produce t`). `input` (a string
// or Buffer, or opts.input) is the stdin; none = empty stdin. `opts`:
//   env       added to the environment (CI=true and NO_COLOR=1 are always set, and KS); undefined removes one
//   encoding  'utf8' (default: stdout and stderr as strings) or 'buffer' (stdout as a Buffer, stderr a string)
//   bin       run this program with `cmd` as its arguments instead of kstream (e.g. 'kcat', 'jq')
//   shell     the shell for a string `cmd` ('sh' by default; 'bash' for PIPESTATUS and the like)
//   args      for a string `cmd`: its positional parameters ($1, "$@"), passed as they are, no quoting needed
//   stdinFd   (runSync) an open file descriptor as stdin, read from its current position, instead of `input`
//   runtime   [program, ...args] that runs the CLI instead of this Node (e.g. bun)
//   timeout   ms before the process is killed (default 300 s); a run that timed out has signal SIGTERM/SIGKILL
//   cwd       working directory
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
/** The CLI as a shell word pair, for command lines: `${KS} consume t`. */
export const KS = `"${process.execPath}" "${CLI}"`;

const DEFAULT_TIMEOUT = 300_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-test-'));
let n = 0;

function envOf(opts) {
  // $KS is expanded unquoted by the shell: the two paths as words (neither has a space)
  const env = { ...process.env, CI: 'true', NO_COLOR: '1', KS: `${process.execPath} ${CLI}`, ...(opts.env ?? {}) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

/** [program, args] for a command as described above. */
function argv(cmd, opts) {
  if (typeof cmd === 'string') {
    const shell = opts.shell ?? 'sh';
    return [shell, ['-c', cmd, ...(opts.args ? [shell, ...opts.args] : [])]];
  }
  if (opts.bin) return [opts.bin, cmd];
  const runtime = opts.runtime ?? [process.execPath];
  return [runtime[0], [...runtime.slice(1), CLI, ...cmd]];
}

const text = (buf, encoding) => (encoding === 'buffer' ? buf : buf.toString('utf8'));

/** (cmd, opts) or (cmd, input, opts): the opts with the input in them. */
function withInput(input, opts) {
  if (typeof input === 'string' || Buffer.isBuffer(input)) return { ...(opts ?? {}), input };
  return input ?? opts ?? {};
}

/**
 * Runs `cmd` to completion. Stdin comes from a file, as `< file` does, so a process that stops reading early is
 * not an error of the harness. Returns { code, signal, stdout, stderr }.
 */
export function runSync(cmd, input, options) {
  const opts = withInput(input, options);
  const [prog, args] = argv(cmd, opts);
  const file = path.join(tmp, `in-${process.pid}-${n++}`);
  if (opts.stdinFd === undefined) fs.writeFileSync(file, opts.input ?? '');
  const fd = opts.stdinFd ?? fs.openSync(file, 'r');
  try {
    const res = spawnSync(prog, args, {
      stdio: [fd, 'pipe', 'pipe'],
      env: envOf(opts),
      cwd: opts.cwd,
      maxBuffer: 1 << 30,
      timeout: opts.timeout ?? DEFAULT_TIMEOUT,
    });
    // a program that is not installed is exit 127, as in a shell
    if (res.error?.code === 'ENOENT') return { code: 127, signal: null, stdout: text(Buffer.alloc(0), opts.encoding), stderr: `${prog}: not found\n` };
    if (res.error && res.error.code !== 'ETIMEDOUT') throw res.error;
    return { code: res.status, signal: res.signal, stdout: text(res.stdout, opts.encoding), stderr: res.stderr.toString('utf8') };
  } finally {
    if (opts.stdinFd === undefined) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  }
}

/** Runs `cmd` to completion without blocking the test's event loop; resolves { code, signal, stdout, stderr }. */
export function run(cmd, input, options) {
  const opts = withInput(input, options);
  const p = start(cmd, { ...opts, group: false });
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? DEFAULT_TIMEOUT);
  return p.exited.finally(() => clearTimeout(timer));
}

/**
 * Starts `cmd` and returns at once: { child, pid, stdout(), stderr() (what came so far, as text; stdoutBuffer()
 * as bytes), exited (resolves { code, signal, stdout, stderr } once it ended and its output closed), kill(signal),
 * waitFor(test, ms) (resolves once test(stdout so far) is true; rejects naming what came when it ended first or
 * after ms) }. `group: true` (the default) puts it in its own process group, so kill() reaches every process of
 * a shell pipeline; `stdout: 'ignore'` drops its output (a long run that writes much), `collect: false` leaves it
 * unread on child.stdout for the caller. Stdin is `opts.input`,
 * then closed; `stdin: 'pipe'` leaves it open as child.stdin; `stdin: 'ignore'` gives none.
 */
export function start(cmd, opts = {}) {
  const [prog, args] = argv(cmd, opts);
  const group = opts.group ?? true;
  const stdinMode = opts.stdin ?? 'pipe';
  const child = spawn(prog, args, { detached: group, stdio: [stdinMode, opts.stdout ?? 'pipe', 'pipe'], env: envOf(opts), cwd: opts.cwd });
  const out = [];
  const err = [];
  // collect: false leaves child.stdout to the caller (a reader that pauses, or a large output counted, not kept)
  if (opts.collect !== false) child.stdout?.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  if (child.stdin) {
    // a process that exits without reading all of its stdin is its own business
    child.stdin.on('error', () => {});
    if (opts.stdin !== 'pipe' || opts.input !== undefined) child.stdin.end(opts.input ?? '');
  }
  const stdoutBuffer = () => Buffer.concat(out);
  const stdout = () => stdoutBuffer().toString('utf8');
  const stderr = () => Buffer.concat(err).toString('utf8');
  const exited = new Promise((resolve, reject) => {
    // a program that is not installed is exit 127, as in a shell
    child.on('error', (e) => (e.code === 'ENOENT' ? resolve({ code: 127, signal: null, stdout: text(Buffer.alloc(0), opts.encoding), stderr: `${prog}: not found\n` }) : reject(e)));
    child.on('close', (code, signal) => resolve({ code, signal, stdout: text(stdoutBuffer(), opts.encoding), stderr: stderr() }));
  });
  let ended = false;
  exited.then(() => (ended = true), () => (ended = true));
  const kill = (signal = 'SIGTERM') => {
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      /* gone */
    }
  };
  async function waitFor(test, ms = 30_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const so = stdout();
      if (test(so)) return so;
      if (ended) throw new Error(`the process ended first (stdout: ${so.slice(-500)}; stderr: ${stderr().slice(-500)})`);
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms (stdout: ${so.slice(-500)}; stderr: ${stderr().slice(-500)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { child, pid: child.pid, stdout, stdoutBuffer, stderr, exited, kill, waitFor };
}

/**
 * Runs kstream stages as separate processes joined by real OS pipes: stages = [[args...], [args...]]; resolves
 * { codes, stdout (of the last), stderr (one string per stage) }.
 */
export function piped(stages, input = '', opts = {}) {
  return new Promise((resolve, reject) => {
    const env = envOf(opts);
    const procs = stages.map((args) => spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    for (let i = 0; i + 1 < procs.length; i++) procs[i].stdout.pipe(procs[i + 1].stdin);
    // a stage that exits early (as `head` does) closes its stdin: EPIPE there is the pipeline's business, not a test crash
    procs.forEach((p) => p.stdin.on('error', () => {}));
    const outChunks = [];
    const errs = procs.map(() => []);
    procs.forEach((p, i) => p.stderr.on('data', (d) => errs[i].push(d)));
    procs[procs.length - 1].stdout.on('data', (d) => outChunks.push(d));
    let left = procs.length;
    const codes = [];
    procs.forEach((p, i) => p.on('close', (code) => {
      codes[i] = code;
      if (--left === 0) resolve({ codes, stdout: Buffer.concat(outChunks).toString('utf8'), stderr: errs.map((e) => Buffer.concat(e).toString('utf8')) });
    }));
    procs.forEach((p) => p.on('error', reject));
    procs[0].stdin.end(input);
  });
}

/** Splits NDJSON output into parsed values. */
export function lines(text) {
  return text.split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
}

/** The non-empty lines of a text. */
export const textLines = (s) => s.split('\n').filter((l) => l !== '');
