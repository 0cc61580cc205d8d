#!/usr/bin/env node
/**
 * Writes the command reference, docs/commands/<command>.md, from the commands' specs (after `npm run build`):
 * the same specs that parse the command line and print `--help`. test/docs.test.mjs fails when the committed
 * pages differ from what this writes.
 *
 *   node scripts/gen-docs.mjs           write docs/commands/
 *   node scripts/gen-docs.mjs --check   exit 1 (naming the stale pages) instead of writing
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.join(REPO, 'docs', 'commands');

export async function pages() {
  const { commands } = await import(path.join(REPO, 'dist/commands/index.js'));
  const { optionsOf } = await import(path.join(REPO, 'dist/src/pipeline/assemble.js'));
  const { helpMarkdown, indexMarkdown } = await import(path.join(REPO, 'dist/src/cli/help.js'));
  const specs = await commands.all();
  const out = new Map([['README.md', indexMarkdown(specs)]]);
  for (const s of specs) out.set(`${s.name}.md`, helpMarkdown(s, optionsOf(s)));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  const want = await pages();
  const stale = [...want].filter(([f, text]) => !fs.existsSync(path.join(DIR, f)) || fs.readFileSync(path.join(DIR, f), 'utf8') !== text).map(([f]) => f);
  const extra = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => !want.has(f)) : [];
  if (check) {
    if (stale.length || extra.length) {
      process.stderr.write(`docs: stale command reference: ${[...stale, ...extra].join(', ')} — run \`npm run docs\`\n`);
      process.exit(1);
    }
  } else {
    fs.mkdirSync(DIR, { recursive: true });
    for (const f of stale) fs.writeFileSync(path.join(DIR, f), want.get(f));
    for (const f of extra) fs.rmSync(path.join(DIR, f));
    process.stderr.write(`docs: ${stale.length + extra.length ? `updated ${[...stale, ...extra].join(', ')}` : 'up to date'}\n`);
  }
}
