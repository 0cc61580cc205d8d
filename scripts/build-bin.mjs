#!/usr/bin/env node
/**
 * `npm run build:bin`: one executable file with kstream and its runtime inside (`bun build --compile`), to copy to a
 * box that has no Node: its dependencies, the worker threads' module and the compression codecs' native addons are
 * embedded (Bun unpacks an addon to the temp dir when a run first needs it).
 *
 *   npm run build:bin                                  dist/bin/kstream for this machine
 *   npm run build:bin -- --target bun-linux-arm64      another platform (bun's --target names)
 *   npm run build:bin -- --outfile /usr/local/bin/kstream
 *
 * Runs on the compiled dist/ (npm run build first, as the npm script does). Bun comes from the devDependencies.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fail = (msg) => {
  process.stderr.write(`build:bin: ${msg}\n`);
  process.exit(1);
};

let args;
try {
  args = parseArgs({ options: { outfile: { type: 'string' }, target: { type: 'string' } } }).values;
} catch (e) {
  fail(`${e.message} — use --outfile <path> or --target <bun target, e.g. bun-linux-arm64>`);
}
const outfile = path.resolve(args.outfile ?? path.join(REPO, 'dist/bin/kstream'));
const target = args.target;

const entry = path.join(REPO, 'dist/src/cli.js');
const worker = path.join(REPO, 'dist/src/worker.js');
for (const f of [entry, worker]) if (!fs.existsSync(f)) fail(`\`${path.relative(REPO, f)}\` is missing — run \`npm run build\` first`);
const bun = path.join(REPO, 'node_modules/.bin/bun');
if (!fs.existsSync(bun)) fail('bun is not installed — run `npm install` (bun is a devDependency)');

fs.mkdirSync(path.dirname(outfile), { recursive: true });
// the worker module is a second entry point, for pipelines over a file (new Worker(new URL('../worker.js')) in
// src/pipeline/parallel.ts); kstream starts workers on Node only today, so on Bun it is carried, not started
const bunArgs = ['build', '--compile', '--minify-syntax', entry, worker, '--outfile', outfile, ...(target ? ['--target', target] : [])];
const r = spawnSync(bun, bunArgs, { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) fail(`bun build failed (exit ${r.status ?? r.signal})`);
const mb = (fs.statSync(outfile).size / 1024 / 1024).toFixed(0);
process.stderr.write(`build:bin: ${path.relative(process.cwd(), outfile) || outfile} (${mb} MiB${target ? `, ${target}` : ''})\n`);
