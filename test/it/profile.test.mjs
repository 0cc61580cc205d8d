// Connection profiles and -X client settings against the real test broker: the brokers (and SASL and TLS) come
// only from a profile, or only from -X settings. This file mentions KSTREAM_SASL, so scripts/test.mjs starts the
// broker with its SASL_SSL listener too (scripts/kafka.mjs up --sasl).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { itContext } from '../helpers/broker.mjs';
import { lines, run } from '../helpers/spawn.mjs';

const T = { timeout: 60_000 };
const ctx = await itContext();

/** No connection settings from the environment: each test's profile file alone (or none). */
function envWith(configFile, extra = {}) {
  return {
    KSTREAM_CONFIG: configFile, KSTREAM_BROKERS: undefined, KAFKA_BROKERS: undefined, KSTREAM_PROFILE: undefined,
    KSTREAM_SASL_MECHANISM: undefined, KSTREAM_SASL_USERNAME: undefined, KSTREAM_SASL_PASSWORD: undefined, CI: 'true', NO_COLOR: '1', ...extra,
  };
}
const freshConfig = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-it-profile-')), 'config.json');

async function ok(args, env, input) {
  const r = await run(args, { env, input });
  assert.equal(r.code, 0, `kstream ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

test('topics list, produce and consume with the brokers only from the current profile', T, async () => {
  const t = await ctx.createTopic('profile', 2);
  const file = freshConfig();
  const env = envWith(file);
  await ok(['profile', 'set', 'it', '--brokers', ctx.brokers, '--client-id', 'kstream-it-profile'], env);
  // the default broker (127.0.0.1:9092) is not the test broker: only the profile can have found it
  assert.notEqual(ctx.brokers, '127.0.0.1:9092');
  const list = JSON.parse((await ok(['topics', 'list', '--json'], env)).stdout);
  assert.deepEqual(list.find((x) => x.topic === t), { topic: t, partitions: 2, replicas: 1, records: 0 });
  await ok(['produce', t, '--quiet'], env, '{"n":1}\n{"n":2}\n{"n":3}\n');
  const got = lines((await ok(['consume', t, '--exit', '--quiet'], env)).stdout).map((r) => r.n).sort();
  assert.deepEqual(got, [1, 2, 3]);
  // a named profile that does not exist stops the run before any connection
  const bad = await run(['topics', '--profile', 'nope'], { env });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, `kstream: no profile \`nope\` (--profile) in \`${file}\` — profiles: it\n`);
});

test('-X bootstrap.servers (and producer and consumer settings) with no profile and no KSTREAM_BROKERS', T, async () => {
  const t = await ctx.createTopic('xset', 1);
  const g = ctx.groupName('xset');
  const env = envWith(freshConfig());
  const X = ['-X', `bootstrap.servers=${ctx.brokers}`];
  const list = JSON.parse((await ok(['topics', 'list', '--json', ...X], env)).stdout);
  assert.ok(list.some((x) => x.topic === t));
  await ok(['produce', t, '--quiet', ...X, '-X', 'acks=all', '-X', 'linger.ms=0', '-X', 'compression.type=gzip'], env, '{"n":1}\n{"n":2}\n');
  const c = await ok(['consume', t, '--exit', '--quiet', ...X, '-X', `group.id=${g}`, '-X', 'auto.offset.reset=earliest'], env);
  assert.deepEqual(lines(c.stdout).map((r) => r.n), [1, 2]);
  // group.id made it a group member that commits: the group has its offset
  const [committed] = await ctx.adm.fetchOffsets({ groupId: g, topics: [t] });
  assert.equal(committed.partitions[0].offset, '2');
  // and the same settings as -Xkey=value, the way getopt also reads them
  const again = await ok(['consume', t, '--exit', '--quiet', `-Xbootstrap.servers=${ctx.brokers}`, '-Xauto.offset.reset=earliest'], env);
  assert.equal(lines(again.stdout).length, 2);
});

test('SASL_SSL from a profile (password from its file), and from -X settings (password from the environment)', T, async () => {
  const info = JSON.parse(fs.readFileSync(process.env.KSTREAM_SASL_CONFIG, 'utf8'));
  const t = await ctx.createTopic('sasl', 1);
  const file = freshConfig();
  const pw = path.join(path.dirname(file), 'pw');
  fs.writeFileSync(pw, `${info.password}\n`, { mode: 0o600 });
  const env = envWith(file);
  await ok(['profile', 'set', 'secure', '--brokers', info.bootstrap, '--sasl-mechanism', info.mechanism, '--sasl-username', info.username, '--sasl-password-file', pw, '--tls-ca', info.caPem], env);
  assert.ok(!fs.readFileSync(file, 'utf8').includes(info.password), 'the profile holds the file, not the password');
  const list = JSON.parse((await ok(['topics', 'list', '--json'], env)).stdout);
  assert.ok(list.some((x) => x.topic === t));

  const bare = envWith(freshConfig(), { KSTREAM_SASL_PASSWORD: info.password });
  const X = ['-X', `bootstrap.servers=${info.bootstrap}`, '-X', 'security.protocol=SASL_SSL', '-X', `sasl.mechanism=${info.mechanism.toUpperCase()}`, '-X', `sasl.username=${info.username}`, '-X', `ssl.ca.location=${info.caPem}`];
  await ok(['produce', t, '--quiet', ...X], bare, '{"via":"x"}\n');
  assert.deepEqual(lines((await ok(['consume', t, '--exit', '--quiet', ...X], bare)).stdout), [{ via: 'x' }]);
});
