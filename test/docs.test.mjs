// The command reference (docs/commands/) and `--help` come from the same specs; this fails when they drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pages } from '../scripts/gen-docs.mjs';
import { runSync } from './helpers/spawn.mjs';

test('docs/commands/ is what the specs generate (run `npm run docs` after changing a command)', async () => {
  const want = await pages();
  const dir = new URL('../docs/commands/', import.meta.url);
  assert.deepEqual(fs.readdirSync(dir).sort(), [...want.keys()].sort());
  for (const [f, text] of want) assert.equal(fs.readFileSync(new URL(f, dir), 'utf8'), text, `docs/commands/${f} is stale`);
});

test('every option in a command\'s reference page is in its --help, with the same default', async () => {
  for (const [f, text] of await pages()) {
    if (f === 'README.md') continue;
    const name = f.replace(/\.md$/, '');
    const help = runSync([name, '--help']).stdout;
    const rows = text.split('\n').filter((l) => l.startsWith('| `'));
    assert.ok(rows.length > 0, name);
    for (const row of rows) {
      const [, flags, , def] = /^\| `(.*?)` \| (.*) \| (?:`(.*)`)? \|$/.exec(row);
      const flagsText = flags.replace(/\\\|/g, '|');
      assert.ok(help.includes(`  ${flagsText}`), `${name}: ${flagsText} in --help`);
      if (def !== undefined) assert.ok(help.includes(`(default: ${def.replace(/\\\|/g, '|')})`), `${name}: default of ${flagsText}`);
    }
  }
});
