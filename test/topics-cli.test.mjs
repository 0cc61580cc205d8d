// `topics alter-config` and `topics add-partitions` without a broker: their usage errors come before any connection
// (the brokers named here refuse connections, which would be exit 1 and another line), and their help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSync } from './helpers/spawn.mjs';

const env = { KSTREAM_BROKERS: '127.0.0.1:1', NO_COLOR: '1', CI: 'true' };
const ks = (...args) => runSync(['topics', ...args], '', { env });

test('alter-config and add-partitions usage errors: one line, exit 2, no connection tried', () => {
  const cases = [
    [['alter-config'], 'kstream: `topics alter-config` needs a topic — kstream topics alter-config <topic>'],
    [['alter-config', 't'], 'kstream: `topics alter-config` needs --set or --delete — e.g. kstream topics alter-config clicks --set retention.ms=86400000 --delete cleanup.policy'],
    [['alter-config', 't', '--set', 'retention.ms'], 'kstream: invalid --set `retention.ms` — use name=value, e.g. --set retention.ms=86400000'],
    [['alter-config', 't', '--set', '=1'], 'kstream: invalid --set `=1` — use name=value, e.g. --set retention.ms=86400000'],
    [['alter-config', 't', '--set', 'a=1', '--set', 'a=2'], 'kstream: config `a` is given more than once — set or delete each config once'],
    [['alter-config', 't', 'u', '--set', 'a=1'], 'kstream: `topics alter-config` takes one topic (got 2) — run it once per topic: kstream topics alter-config t …'],
    [['add-partitions', 't'], 'kstream: `topics add-partitions` needs --count — give the new total, e.g. kstream topics add-partitions t --count 12'],
    [['add-partitions', 't', '--count', '-1'], 'kstream: invalid --count `-1` — use a whole number: 0, 1, 2, …'],
    [['create', 't', '--set', 'a=1'], 'kstream: --set does not apply to `topics create` — it is for `topics alter-config`; see kstream topics --help'],
    [['describe', 't', '--dry-run'], 'kstream: --dry-run does not apply to `topics describe` — it is for `topics alter-config`, `topics add-partitions`; see kstream topics --help'],
  ];
  for (const [args, line] of cases) {
    const r = ks(...args);
    assert.equal(r.stderr, `${line}\n`, args.join(' '));
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('topics --help shows the new actions, and that --count is the new total', () => {
  const r = ks('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /change configs, add partitions/);
  assert.match(r.stdout, /--set <name=value>\s+alter-config: set this config on the topic, the others untouched \(repeatable\)/);
  assert.match(r.stdout, /--delete <name>\s+alter-config: remove this config from the topic, back to the broker's default/);
  assert.match(r.stdout, /--count <n>\s+add-partitions: the new TOTAL number of partitions/);
  assert.match(r.stdout, /kstream topics add-partitions clicks --count 12/);
});
