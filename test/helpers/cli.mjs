// Runs the built CLI the way a user does, for tests.
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-test-'));
let n = 0;

/**
 * Runs `kstream ...args` with `input` on stdin (from a file, as `< file` does, so a run that stops reading early
 * is not an error of the test harness); returns { code, stdout, stderr }.
 */
export function kstream(args, input = '', opts = {}) {
  const runtime = opts.runtime ?? [process.execPath];
  const file = path.join(tmp, `in-${process.pid}-${n++}`);
  fs.writeFileSync(file, input);
  const fd = fs.openSync(file, 'r');
  const res = spawnSync(runtime[0], [...runtime.slice(1), CLI, ...args], {
    stdio: [fd, 'pipe', 'pipe'],
    encoding: opts.encoding ?? 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', ...(opts.env ?? {}) },
    maxBuffer: 1 << 30,
    timeout: opts.timeout ?? 60_000,
  });
  fs.closeSync(fd);
  fs.rmSync(file);
  if (res.error) throw res.error;
  return { code: res.status, stdout: res.stdout, stderr: res.stderr, signal: res.signal };
}

/** Runs stages as separate processes joined by real OS pipes: stages = [[args...], [args...]]. */
export function piped(stages, input = '', opts = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, CI: 'true', NO_COLOR: '1', ...(opts.env ?? {}) };
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
