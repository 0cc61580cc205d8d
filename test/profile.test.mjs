// Connection profiles (src/kafka/profile.ts, resolveConnection in src/kafka/config.ts, commands/profile.ts) and -X
// client settings (applySettings in src/cli/options.ts): precedence field by field, refusals, the profile command's
// round trip. No broker: the parsed options and the resolved connection are what is checked, and the CLI's lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectionConfig, resolveConnection } from '../dist/src/kafka/config.js';
import { parseSegment as parseWith } from '../dist/src/pipeline/assemble.js';
import { commands } from '../dist/commands/index.js';

const parseSegment = (argv) => parseWith(argv, commands);
import { runSync } from './helpers/spawn.mjs';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ks-profile-'));

/** A temp dir with a profiles file holding `cfg` (JSON, or a text as is), and files the profiles can name. */
function setup(cfg) {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  if (cfg !== undefined) fs.writeFileSync(file, typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
  for (const f of ['pw', 'ca.pem', 'cert.pem', 'key.pem', 'pw2', 'ca2.pem']) fs.writeFileSync(path.join(dir, f), `${f}-content\n`);
  return { dir, file, env: { KSTREAM_CONFIG: file }, at: (f) => path.join(dir, f) };
}

/** The environment of a CLI run: no connection settings of the caller's, profiles in `file`. */
const clean = (file, extra = {}) => ({
  KSTREAM_CONFIG: file, KSTREAM_BROKERS: undefined, KAFKA_BROKERS: undefined, KSTREAM_PROFILE: undefined,
  KSTREAM_SASL_MECHANISM: undefined, KSTREAM_SASL_USERNAME: undefined, KSTREAM_SASL_PASSWORD: undefined, ...extra,
});

const FULL = {
  current: 'prod',
  profiles: {
    prod: { brokers: 'p1:9092,p2', clientId: 'prod-client', sasl: { mechanism: 'scram-sha-512', username: 'puser', passwordFile: 'pw' }, tls: { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem', insecure: true } },
    dev: { brokers: ['d1:1', 'd2:2'] },
    tlsonly: { brokers: 't:1', tls: true },
  },
};

test('brokers: --brokers, then KSTREAM_BROKERS, KAFKA_BROKERS, then the profile, then 127.0.0.1:9092', () => {
  const { env } = setup(FULL);
  assert.deepEqual(connectionConfig({ brokers: 'f:1' }, { ...env, KSTREAM_BROKERS: 'e:1', KAFKA_BROKERS: 'k:1' }).brokers, ['f:1']);
  assert.deepEqual(connectionConfig({}, { ...env, KSTREAM_BROKERS: 'e:1', KAFKA_BROKERS: 'k:1' }).brokers, ['e:1']);
  assert.deepEqual(connectionConfig({}, { ...env, KAFKA_BROKERS: 'k:1' }).brokers, ['k:1']);
  assert.deepEqual(connectionConfig({}, env).brokers, ['p1:9092', 'p2:9092']);
  assert.deepEqual(connectionConfig({ profile: 'dev' }, env).brokers, ['d1:1', 'd2:2']);
  const none = setup();
  assert.deepEqual(connectionConfig({}, none.env).brokers, ['127.0.0.1:9092']);
  const r = resolveConnection({}, { ...env, KAFKA_BROKERS: 'k:1' });
  assert.equal(r.brokers.from, 'KAFKA_BROKERS');
  assert.equal(resolveConnection({}, env).brokers.from, 'profile prod');
  assert.equal(resolveConnection({}, none.env).brokers.from, 'default');
});

test('client id, SASL and TLS: each field from the flag, else the environment, else the profile', () => {
  const { env, at } = setup(FULL);
  const fromProfile = connectionConfig({}, env);
  assert.equal(fromProfile.clientId, 'prod-client');
  assert.deepEqual(fromProfile.sasl, { mechanism: 'scram-sha-512', username: 'puser', password: 'pw-content' });
  // relative paths in the profile are relative to its file's folder
  assert.deepEqual(fromProfile.tls, { ca: 'ca.pem-content\n', cert: 'cert.pem-content\n', key: 'key.pem-content\n', rejectUnauthorized: false });
  assert.equal(connectionConfig({ clientId: 'mine' }, env).clientId, 'mine');

  const e = { ...env, KSTREAM_SASL_MECHANISM: 'plain', KSTREAM_SASL_USERNAME: 'euser', KSTREAM_SASL_PASSWORD: 'epass' };
  assert.deepEqual(connectionConfig({}, e).sasl, { mechanism: 'plain', username: 'euser', password: 'epass' });
  const f = connectionConfig({ saslMechanism: 'scram-sha-256', saslUsername: 'fuser', saslPasswordFile: at('pw2') }, e);
  assert.deepEqual(f.sasl, { mechanism: 'scram-sha-256', username: 'fuser', password: 'pw2-content' });
  // field by field: the user from the flag, the mechanism and password from the profile
  assert.deepEqual(connectionConfig({ saslUsername: 'fuser' }, env).sasl, { mechanism: 'scram-sha-512', username: 'fuser', password: 'pw-content' });

  const t = connectionConfig({ tlsCa: at('ca2.pem') }, env).tls;
  assert.equal(t.ca, 'ca2.pem-content\n');
  assert.equal(t.cert, 'cert.pem-content\n');
  assert.equal(t.rejectUnauthorized, false);
  const r = resolveConnection({ tlsCa: at('ca2.pem'), saslUsername: 'fuser' }, e);
  assert.deepEqual([r.tls.ca.from, r.tls.cert.from, r.tls.insecure.from, r.tls.on], ['--tls-ca', 'profile prod', 'profile prod', '--tls-ca']);
  assert.deepEqual([r.sasl.mechanism.from, r.sasl.username.from, r.sasl.password.from], ['KSTREAM_SASL_MECHANISM', '--sasl-username', 'KSTREAM_SASL_PASSWORD']);
  assert.deepEqual(r.sasl.password.value, { env: 'KSTREAM_SASL_PASSWORD' });

  // `"tls": true` is TLS with the system CAs, verified
  assert.deepEqual(connectionConfig({ profile: 'tlsonly' }, env).tls, { ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true });
  // a profile without SASL or TLS adds neither
  const dev = connectionConfig({ profile: 'dev' }, env);
  assert.equal(dev.sasl, undefined);
  assert.equal(dev.tls, undefined);
  assert.equal(dev.clientId, 'kstream');
  assert.equal(resolveConnection({ profile: 'dev' }, env).clientId.from, 'default');
});

test('which profile: --profile, else KSTREAM_PROFILE, else current, else none', () => {
  const { env, file } = setup(FULL);
  assert.equal(resolveConnection({ profile: 'dev' }, { ...env, KSTREAM_PROFILE: 'tlsonly' }).profile.name, 'dev');
  assert.equal(resolveConnection({ profile: 'dev' }, env).profile.by, '--profile');
  const byEnv = resolveConnection({}, { ...env, KSTREAM_PROFILE: 'tlsonly' }).profile;
  assert.deepEqual([byEnv.name, byEnv.by, byEnv.file], ['tlsonly', 'KSTREAM_PROFILE', file]);
  assert.deepEqual([resolveConnection({}, env).profile.name, resolveConnection({}, env).profile.by], ['prod', 'current']);
  const noCurrent = setup({ profiles: FULL.profiles });
  assert.equal(resolveConnection({}, noCurrent.env).profile, undefined);
  assert.deepEqual(connectionConfig({}, noCurrent.env).brokers, ['127.0.0.1:9092']);
});

test('unknown profile names, and a file that is not there', () => {
  const { env, file } = setup(FULL);
  assert.throws(() => connectionConfig({ profile: 'stage' }, env), (e) => e.exitCode === 2 && e.message === `no profile \`stage\` (--profile) in \`${file}\`` && e.hint === 'profiles: prod, dev, tlsonly');
  assert.throws(() => connectionConfig({}, { ...env, KSTREAM_PROFILE: 'prd' }), (e) => e.message.includes('(KSTREAM_PROFILE)') && e.hint === 'did you mean `prod`? profiles: prod, dev, tlsonly');
  const gone = setup({ current: 'old', profiles: { dev: { brokers: 'd:1' } } });
  assert.throws(() => connectionConfig({}, gone.env), (e) => e.message === `no current profile \`old\` in \`${gone.file}\`` && e.hint === 'profiles: dev');
  const none = setup();
  assert.throws(() => connectionConfig({ profile: 'prod' }, none.env), (e) => e.message === `no profile \`prod\` (--profile): \`${none.file}\` does not exist` && /kstream profile set prod --brokers/.test(e.hint));
});

test('a profile holds no password: refused, naming the file and the fix', () => {
  for (const sasl of [{ username: 'u', password: 'hunter2' }, { username: 'u', Password: 'x' }]) {
    const { env, file } = setup({ profiles: { prod: { brokers: 'b:1', sasl } } });
    const key = Object.keys(sasl)[1];
    assert.throws(() => connectionConfig({ brokers: 'x:1' }, env), (e) => {
      assert.equal(e.message, `\`profiles.prod.sasl.${key}\` in \`${file}\` is a password: profiles hold no secrets`);
      assert.match(e.hint, /"passwordFile".*KSTREAM_SASL_PASSWORD/);
      assert.ok(!`${e.message}${e.hint}`.includes('hunter2'));
      return true;
    });
  }
  const top = setup({ profiles: { prod: { brokers: 'b:1', password: 'x' } } });
  assert.throws(() => connectionConfig({}, top.env), /`profiles\.prod\.password` in .* is a password/);
});

test('a malformed file is one line naming the file, the line and the column; unknown fields are refused', () => {
  const { env, file } = setup('{\n  "profiles": {\n    "a": { "brokers": "x:1" },\n  }\n}\n');
  assert.throws(() => connectionConfig({}, env), (e) => {
    assert.equal(e.exitCode, 2);
    assert.ok(e.message.startsWith(`profiles \`${file}\` is not valid JSON: `), e.message);
    assert.match(e.message, / at line 4, column 3$/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  const typo = setup({ profiles: { a: { broker: 'x:1' } } });
  assert.throws(() => connectionConfig({}, typo.env), (e) => e.message === `unknown field \`profiles.a.broker\` in \`${typo.file}\`` && e.hint.startsWith('did you mean `brokers`?'));
  const bad = [
    [{ profiles: { a: { tls: { insecure: 'yes' } } } }, /`profiles\.a\.tls\.insecure` .* is not true or false/],
    [{ profiles: { a: { sasl: 'scram' } } }, /`profiles\.a\.sasl` .* is not an object/],
    [{ profiles: { 'a b': {} } }, /profile name `a b` .* is not a name/],
    [{ current: 1, profiles: {} }, /`current` in .* is not a profile name/],
    [{ profile: {} }, /unknown field `profile` in/],
    [[], /is not a JSON object/],
    [{ current: 'a', profiles: { a: { brokers: 'h:99999' } } }, /invalid broker `h:99999` in profile `a`/],
    [{ current: 'a', profiles: { a: { sasl: { mechanism: 'gssapi', username: 'u', passwordFile: 'pw' } } } }, /unknown SASL mechanism `gssapi` in profile `a`/],
    [{ current: 'a', profiles: { a: { tls: { cert: 'cert.pem' } } } }, /--tls-cert and --tls-key go together/],
  ];
  for (const [cfg, re] of bad) assert.throws(() => connectionConfig({}, setup(cfg).env), re, JSON.stringify(cfg));
});

test('profiles are found at KSTREAM_CONFIG, else $XDG_CONFIG_HOME/kstream/config.json, else ~/.config/kstream/config.json', () => {
  const home = tmp();
  const xdg = path.join(home, 'xdg');
  for (const [dir, brokers] of [[path.join(xdg, 'kstream'), 'x:1'], [path.join(home, '.config', 'kstream'), 'h:1']]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ current: 'a', profiles: { a: { brokers } } }));
  }
  assert.deepEqual(connectionConfig({}, { HOME: home, XDG_CONFIG_HOME: xdg }).brokers, ['x:1']);
  assert.deepEqual(connectionConfig({}, { HOME: home }).brokers, ['h:1']);
  // a relative XDG_CONFIG_HOME is ignored, as the XDG spec says
  assert.deepEqual(connectionConfig({}, { HOME: home, XDG_CONFIG_HOME: 'xdg' }).brokers, ['h:1']);
  const { file } = setup({ current: 'a', profiles: { a: { brokers: 'k:1' } } });
  assert.deepEqual(connectionConfig({}, { HOME: home, XDG_CONFIG_HOME: xdg, KSTREAM_CONFIG: file }).brokers, ['k:1']);
});

// ---------------------------------------------------------------------------------------------------------------
// -X client settings, as the command sees its options

const parse = async (...argv) => (await parseSegment(argv)).opts;

test('-X connection settings stand for the connection options', async () => {
  const cases = [
    [['bootstrap.servers=a:1,b:2'], { brokers: 'a:1,b:2' }],
    [['metadata.broker.list=a:1'], { brokers: 'a:1' }],
    [['client.id=etl'], { clientId: 'etl' }],
    [['sasl.mechanism=SCRAM-SHA-512'], { saslMechanism: 'scram-sha-512' }],
    [['sasl.mechanisms=PLAIN'], { saslMechanism: 'plain' }],
    [['sasl.username=me'], { saslUsername: 'me' }],
    [['security.protocol=SSL'], { tls: true }],
    [['security.protocol=sasl_ssl'], { tls: true }],
    [['security.protocol=PLAINTEXT'], { tls: false }],
    [['security.protocol=SASL_PLAINTEXT'], { tls: false }],
    [['ssl.ca.location=/ca.pem'], { tlsCa: '/ca.pem' }],
    [['ssl.certificate.location=/c.pem'], { tlsCert: '/c.pem' }],
    [['ssl.key.location=/k.pem'], { tlsKey: '/k.pem' }],
    [['enable.ssl.certificate.verification=false'], { tlsInsecure: true }],
    [['enable.ssl.certificate.verification=true'], { tlsInsecure: false }],
  ];
  for (const cmd of ['topics', 'groups', 'consume', 'produce']) {
    for (const [xs, want] of cases) {
      const opts = await parse(cmd, 't', ...xs.flatMap((x) => ['-X', x]));
      for (const [k, v] of Object.entries(want)) assert.equal(opts[k], v, `${cmd} -X ${xs}: ${k}`);
      assert.equal(opts.setBy[Object.keys(want)[0]], xs[0]);
    }
  }
  // -Xkey=value, as getopt reads it
  assert.equal((await parse('topics', '-Xbootstrap.servers=a:1')).brokers, 'a:1');
  assert.equal((await parse('bench', '-X', 'bootstrap.servers=a:1')).brokers, 'a:1');
});

test('-X command settings stand for the options of produce and consume', async () => {
  const produce = [
    ['acks=1', 'acks', '1'], ['acks=all', 'acks', 'all'], ['request.required.acks=-1', 'acks', '-1'],
    ['compression.type=zstd', 'compression', 'zstd'], ['compression.codec=GZIP', 'compression', 'gzip'],
    ['linger.ms=20', 'linger', 20], ['queue.buffering.max.ms=0', 'linger', 0],
    ['batch.size=16384', 'batchBytes', 16384], ['batch.num.messages=500', 'batchSize', 500],
  ];
  for (const [x, key, want] of produce) assert.equal((await parse('produce', 't', '-X', x))[key], want, x);
  const consume = [
    ['group.id=g1', 'group', 'g1'], ['group.instance.id=i1', 'instanceId', 'i1'],
    ['auto.offset.reset=earliest', 'offset', 'start'], ['auto.offset.reset=smallest', 'offset', 'start'],
    ['auto.offset.reset=latest', 'offset', 'end'], ['auto.offset.reset=largest', 'offset', 'end'],
    ['isolation.level=read_committed', 'isolation', 'read_committed'], ['fetch.wait.max.ms=100', 'maxWait', 100],
  ];
  for (const [x, key, want] of consume) assert.equal((await parse('consume', 't', '-X', x))[key], want, x);
  // cac's defaults do not count as given: -X overrides them, and the short names get the value too
  const opts = await parse('produce', 't', '-X', 'compression.type=lz4');
  assert.equal(opts.z, 'lz4');
  // and the resolution names the setting as where the field came from
  const r = resolveConnection(await parse('topics', '-X', 'bootstrap.servers=a:1', '-X', 'client.id=c'), setup().env);
  assert.deepEqual([r.brokers.from, r.clientId.from], ['-X bootstrap.servers=a:1', '-X client.id=c']);
});

test('-X counts as a flag: over the environment and the profile, and refused when it contradicts a flag', async () => {
  const { env } = setup(FULL);
  const e = { ...env, KSTREAM_BROKERS: 'e:1', KSTREAM_SASL_USERNAME: 'euser', KSTREAM_SASL_PASSWORD: 'epw' };
  const cfg = connectionConfig(await parse('topics', '-X', 'bootstrap.servers=x:1', '-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanism=PLAIN', '-X', 'sasl.username=xuser', '-X', 'enable.ssl.certificate.verification=true'), e);
  assert.deepEqual(cfg.brokers, ['x:1']);
  assert.equal(cfg.sasl.username, 'xuser');
  // brokers named outside the profile get none of its secrets: the password is the environment's, not its file's
  assert.equal(cfg.sasl.password, 'epw');
  assert.equal(cfg.tls.rejectUnauthorized, true);
  assert.equal(cfg.tls.ca, undefined);
  // security.protocol=PLAINTEXT turns off the TLS and SASL of the profile
  const plain = connectionConfig(await parse('topics', '-X', 'security.protocol=PLAINTEXT'), env);
  assert.equal(plain.tls, undefined);
  assert.equal(plain.sasl, undefined);
  const ssl = connectionConfig(await parse('topics', '-X', 'security.protocol=SSL'), env);
  assert.ok(ssl.tls);
  assert.equal(ssl.sasl, undefined);
  // the same value twice is no conflict
  assert.equal((await parse('produce', 't', '--acks', '1', '-X', 'acks=1')).acks, '1');
  assert.equal((await parse('topics', '--tls', '-X', 'security.protocol=SSL')).tls, true);
  const conflicts = [
    [['produce', 't', '--acks', 'all', '-X', 'acks=1'], '`-X acks=1` and `--acks` disagree'],
    [['produce', 't', '-X', 'linger.ms=1', '--linger', '5ms'], '`-X linger.ms=1` and `--linger` disagree'],
    [['consume', 't', '-g', 'a', '-X', 'group.id=b'], '`-X group.id=b` and `--group` disagree'],
    [['topics', '--brokers', 'a:1', '-X', 'bootstrap.servers=b:1'], '`-X bootstrap.servers=b:1` and `--brokers` disagree'],
    [['topics', '--tls', '-X', 'security.protocol=PLAINTEXT'], '`-X security.protocol=PLAINTEXT` and `--tls` disagree'],
    [['topics', '--tls-insecure', '-X', 'enable.ssl.certificate.verification=true'], '`-X enable.ssl.certificate.verification=true` and `--tls-insecure` disagree'],
    [['topics', '-X', 'bootstrap.servers=a:1', '-X', 'metadata.broker.list=b:1'], '`-X bootstrap.servers=a:1` and `-X metadata.broker.list=b:1` disagree'],
  ];
  for (const [argv, msg] of conflicts) await assert.rejects(parseSegment(argv), (err) => err.exitCode === 2 && err.message === msg, argv.join(' '));
  await assert.rejects(async () => connectionConfig(await parse('topics', '-X', 'security.protocol=PLAINTEXT', '--tls-ca', '/ca'), env), { message: '`-X security.protocol=PLAINTEXT` turns TLS off, but `--tls-ca` needs it' });
  await assert.rejects(async () => connectionConfig(await parse('topics', '-X', 'security.protocol=SSL', '-X', 'sasl.username=u'), env), { message: '`-X security.protocol=SSL` has no SASL, but `-X sasl.username=u` sets it' });
  await assert.rejects(async () => connectionConfig(await parse('topics', '-X', 'security.protocol=SASL_SSL'), setup().env), { message: '`-X security.protocol=SASL_SSL` needs a SASL mechanism' });
  // with a mechanism from the profile, SASL_SSL is complete
  assert.equal(connectionConfig(await parse('topics', '-X', 'security.protocol=SASL_SSL'), env).sasl.mechanism, 'scram-sha-512');
});

test('-X refusals are one line: unknown keys with the list, other commands\' keys, passwords, bad values', () => {
  const { file } = setup();
  const ks = (...argv) => runSync(argv, { env: clean(file) });
  const unknown = ks('topics', '-X', 'foo.bar=1');
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'kstream: unknown client setting `foo.bar` — kstream topics supports: bootstrap.servers, metadata.broker.list, client.id, sasl.mechanism, sasl.mechanisms, sasl.username, security.protocol, ssl.ca.location, ssl.certificate.location, ssl.key.location, enable.ssl.certificate.verification\n');
  // a setting with no = cannot be split into key and value: one that may hold a password is not echoed
  const typo = ks('topics', '-X', 'sasl.password:hunter2');
  assert.equal(typo.code, 2);
  assert.equal(typo.stderr, 'kstream: invalid -X setting (not shown: it may hold a secret) — use key=value, e.g. -X bootstrap.servers=127.0.0.1:9092\n');
  assert.equal(ks('topics', '-X', 'client.id').stderr, 'kstream: invalid -X `client.id` — use key=value, e.g. -X bootstrap.servers=127.0.0.1:9092\n');
  // attached, as kcat users type it: the same lines (these printed the whole help and an internal error, or named `-c`)
  assert.equal(ks('topics', '-Xclient.id').stderr, 'kstream: invalid -X `client.id` — use key=value, e.g. -X bootstrap.servers=127.0.0.1:9092\n');
  assert.equal(ks('topics', '-Xsasl.passwordhunter2').stderr, 'kstream: invalid -X setting (not shown: it may hold a secret) — use key=value, e.g. -X bootstrap.servers=127.0.0.1:9092\n');
  const near = ks('produce', 't', '-X', 'ack=1');
  assert.match(near.stderr, /^kstream: unknown client setting `ack` — did you mean `acks`\? kstream produce supports: acks, request\.required\.acks, compression\.type, .*bootstrap\.servers/);
  const other = ks('produce', 't', '-X', 'group.id=g');
  assert.equal(other.code, 2);
  assert.match(other.stderr, /^kstream: client setting `group\.id` is for `consume`, not `produce` — kstream produce supports: acks, /);
  assert.match(ks('bench', '-X', 'sasl.username=u').stderr, /^kstream: client setting `sasl\.username` is for `consume`, `produce`, `table`, `join`, `lookup`, `serve`, `topics`, `groups`, `profile`, `completion`, not `bench` — kstream bench supports: bootstrap\.servers, metadata\.broker\.list\n$/);
  const pw = ks('topics', '-X', 'sasl.password=hunter2');
  assert.equal(pw.code, 2);
  assert.equal(pw.stderr, 'kstream: `-X sasl.password` is refused: command lines show in ps and shell history — set KSTREAM_SASL_PASSWORD or use --sasl-password-file <file>\n');
  assert.match(ks('consume', 't', '-X', 'ssl.key.password=x').stderr, /^kstream: `-X ssl\.key\.password` is refused: command lines show in ps and shell history — kstream reads an unencrypted PEM key/);
  for (const [argv, re] of [
    [['topics', '-X', 'client.id'], /^kstream: invalid -X `client\.id` — use key=value/],
    [['topics', '-X', 'client.id='], /^kstream: `-X client\.id` needs a value/],
    [['produce', 't', '-X', 'acks=2'], /^kstream: invalid -X acks=2 — .*use all, -1, 1, 0/],
    [['produce', 't', '-X', 'linger.ms=5s'], /^kstream: invalid -X linger\.ms=5s — use whole milliseconds/],
    [['produce', 't', '-X', 'compression.type=inherit'], /^kstream: invalid -X compression\.type=inherit — use none, gzip, snappy, lz4, zstd/],
    [['consume', 't', '-X', 'auto.offset.reset=error'], /^kstream: invalid -X auto\.offset\.reset=error — use earliest or latest/],
    [['topics', '-X', 'security.protocol=SASL_TLS'], /^kstream: invalid -X security\.protocol=SASL_TLS — use PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/],
    [['topics', '-X', 'sasl.mechanism=GSSAPI'], /^kstream: invalid -X sasl\.mechanism=GSSAPI — kstream speaks SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512/],
    [['filter', 'true', '-X', 'a=b'], /^kstream: unknown option `-X` for `filter`/],
  ]) {
    const r = ks(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, re, argv.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  }
});

test('-X and profiles reach the connection: the brokers a command tries are the ones they name', () => {
  const { file } = setup({ current: 'dead', profiles: { dead: { brokers: '127.0.0.1:1' } } });
  const viaProfile = runSync(['topics'], { env: clean(file) });
  assert.equal(viaProfile.code, 1);
  // the fix is in the profile, so the hint says so (it said to set KSTREAM_BROKERS)
  assert.equal(viaProfile.stderr, 'kstream: cannot reach brokers `127.0.0.1:1` (connection refused) — they come from profile dead: check it with `kstream profile show`, or pass --brokers\n');
  const viaX = runSync(['topics', '-X', 'bootstrap.servers=127.0.0.1:2'], { env: clean(file) });
  assert.match(viaX.stderr, /^kstream: cannot reach brokers `127\.0\.0\.1:2` \(connection refused\)/);
});

test('--help lists the -X keys of each option', () => {
  const help = runSync(['produce', '--help']).stdout;
  assert.match(help, /--acks <acks> +all \| 1 \| 0 \(-X acks, request\.required\.acks\) \(default: all\)/);
  assert.match(help, /--brokers <list> .*\(-X bootstrap\.servers, metadata\.broker\.list\)/);
  assert.match(help, /--sasl-password <password> +Refused: .*\(so are -X sasl\.password, ssl\.key\.password\)/);
  assert.match(help, /-X <key=value> +A client setting as librdkafka and kcat name it/);
  assert.match(runSync(['consume', '--help']).stdout, /-g, --group <id> .*\(-X group\.id\)/);
});

// ---------------------------------------------------------------------------------------------------------------
// the profile command

test('profile set, list, use, show, delete: a round trip through the file (0600, written whole)', async () => {
  const { dir, at } = setup();
  const file = path.join(dir, 'sub', 'config.json');
  const ks = (argv, extra) => runSync(argv, { env: clean(file, extra), cwd: dir });
  const empty = ks(['profile', 'list']);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout, `no profiles (\`${file}\` does not exist)\n`);

  const set = ks(['profile', 'set', 'prod', '--brokers', 'p1,p2:9093', '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'etl', '--sasl-password-file', 'pw', '--tls-ca', 'ca.pem']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stderr, `kstream: saved profile \`prod\` in \`${file}\` (the current profile now)\n`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['config.json']);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), {
    current: 'prod',
    profiles: { prod: { brokers: 'p1:9092,p2:9093', sasl: { mechanism: 'scram-sha-512', username: 'etl', passwordFile: at('pw') }, tls: { ca: at('ca.pem') } } },
  });
  const dev = ks(['profile', 'set', 'dev', '-X', 'bootstrap.servers=127.0.0.1:1', '-X', 'client.id=me']);
  assert.equal(dev.stderr, `kstream: saved profile \`dev\` in \`${file}\`\n`);
  // set again: merged into what it had
  assert.equal(ks(['profile', 'set', 'dev', '--tls-insecure']).code, 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).profiles.dev, { brokers: '127.0.0.1:1', clientId: 'me', tls: { insecure: true } });

  const list = ks(['profile', 'list']).stdout;
  assert.match(list, /│ \* │ prod +│ p1:9092,p2:9093 │ scram-sha-512 etl │ on +│/);
  assert.match(list, /│ +│ dev +│ 127\.0\.0\.1:1 +│ - +│ on, insecure │/);
  assert.deepEqual(JSON.parse(ks(['profile', 'list', '--json']).stdout).current, 'prod');
  assert.match(ks(['profile', 'list'], { KSTREAM_PROFILE: 'dev' }).stderr, /KSTREAM_PROFILE=dev overrides the current profile here/);

  // show: what a command would use, and from where; never a secret
  const show = ks(['profile', 'show'], { KSTREAM_SASL_PASSWORD: 'hunter2' });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /│ profile +│ prod \(.*config\.json\) +│ current +│/);
  assert.match(show.stdout, /│ brokers +│ p1:9092,p2:9093 +│ profile prod +│/);
  assert.match(show.stdout, /│ client id +│ kstream +│ default +│/);
  assert.match(show.stdout, /│ sasl user +│ etl +│ profile prod +│/);
  assert.match(show.stdout, /│ sasl password +│ from KSTREAM_SASL_PASSWORD +│ KSTREAM_SASL_PASSWORD +│/);
  assert.match(show.stdout, /│ tls ca +│ .*ca\.pem +│ profile prod +│/);
  assert.ok(!show.stdout.includes('hunter2') && !show.stdout.includes('pw-content'));
  // brokers named elsewhere get none of the profile's credentials or TLS (they went to any cluster named)
  const elsewhere = ks(['profile', 'show'], { KSTREAM_SASL_PASSWORD: 'hunter2', KSTREAM_BROKERS: 'e:1' });
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.match(elsewhere.stdout, /│ brokers +│ e:1 +│ KSTREAM_BROKERS +│/);
  assert.match(elsewhere.stdout, /│ sasl +│ off +│/);
  assert.match(elsewhere.stdout, /│ tls +│ off +│/);
  // the profile's own brokers named again (bench --brokers is how bench turns to Kafka) keep its SASL and TLS
  const same = JSON.parse(ks(['profile', 'show', '--brokers', 'p2:9093,p1:9092', '--json']).stdout);
  assert.equal(same.sasl.username.value, 'etl');
  assert.equal(same.tls.from, 'profile prod');
  const bench = await parseSegment(['bench', '--brokers', 'p1:9092']);
  assert.equal(connectionConfig(bench.opts, { KSTREAM_CONFIG: file, KSTREAM_SASL_PASSWORD: 'x' }).sasl.username, 'etl');
  const flag = JSON.parse(ks(['profile', 'show', '--brokers', 'f:1', '--json']).stdout);
  assert.equal(flag.sasl, null);
  assert.equal(flag.tls, null);
  const json = JSON.parse(ks(['profile', 'show', 'dev', '--client-id', 'x', '--json']).stdout);
  assert.deepEqual(json.profile, { name: 'dev', by: 'named', file });
  assert.deepEqual(json.clientId, { value: 'x', from: '--client-id' });
  assert.deepEqual(json.brokers, { value: ['127.0.0.1:1'], from: 'profile dev' });
  assert.deepEqual(json.tls.insecure, { value: true, from: 'profile dev' });

  const use = ks(['profile', 'use', 'dev']);
  assert.equal(use.code, 0);
  assert.equal(use.stderr, 'kstream: current profile is `dev`\n');
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).current, 'dev');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.match(ks(['profile', 'list']).stdout, /│ \* │ dev /);

  const del = ks(['profile', 'delete', 'dev']);
  assert.equal(del.code, 0);
  assert.match(del.stderr, /deleted profile `dev`; it was the current one: none is current now/);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { profiles: { prod: JSON.parse(fs.readFileSync(file, 'utf8')).profiles.prod } });
  assert.ok(!('current' in JSON.parse(fs.readFileSync(file, 'utf8'))));
  assert.match(ks(['profile', 'show']).stdout, /│ profile +│ none /);
});

test('profile: refusals are one line', () => {
  const { dir, file } = setup({ current: 'prod', profiles: { prod: { brokers: 'p:1' } } });
  const before = fs.readFileSync(file, 'utf8');
  const ks = (...argv) => runSync(argv, { env: clean(file), cwd: dir });
  for (const [argv, line] of [
    [['profile', 'use', 'prd'], `no profile \`prd\` in \`${file}\` — did you mean \`prod\`? profiles: prod`],
    [['profile', 'delete', 'x'], `no profile \`x\` in \`${file}\` — profiles: prod`],
    [['profile', 'show', 'x'], `no profile \`x\` in \`${file}\` — profiles: prod`],
    [['profile', 'set', 'prod', '--sasl-password', 'hunter2'], 'passwords are not taken on the command line — profiles hold no secrets: use --sasl-password-file <file> (the profile keeps its path) or set KSTREAM_SASL_PASSWORD'],
    [['profile', 'set', 'prod', '-X', 'sasl.password=hunter2'], '`-X sasl.password` is refused: command lines show in ps and shell history — set KSTREAM_SASL_PASSWORD or use --sasl-password-file <file>'],
    [['profile', 'set', 'prod'], 'nothing to set — pass connection options, e.g. kstream profile set prod --brokers b1:9092 --sasl-username me'],
    [['profile', 'set', 'a/b', '--brokers', 'x:1'], 'invalid profile name `a/b` — use letters, digits, ".", "_" and "-", starting with a letter or digit'],
    [['profile', 'set', 'prod', '--tls-ca', 'nope.pem'], 'no such file `nope.pem` for --tls-ca — a profile names files that exist: check the path'],
    [['profile', 'set', 'prod', '--brokers', 'x:0'], 'invalid broker `x:0` — use host:port, e.g. --brokers 127.0.0.1:9092'],
    [['profile', 'set', 'prod', '--profile', 'x', '--brokers', 'x:1'], '`profile set` takes the profile as its argument, not --profile — kstream profile set prod'],
    [['profile', 'set', 'prod', '-X', 'security.protocol=SASL_SSL'], '`-X security.protocol=SASL_SSL` needs a SASL mechanism — add -X sasl.mechanism=PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (or --sasl-mechanism)'],
    [['profile', 'use'], '`profile use` needs a profile name — kstream profile use <name>'],
    [['profile', 'frob'], 'unknown profile action `frob` — use list, show, use, set, delete, e.g. kstream profile show'],
  ]) {
    const r = ks(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.stderr, `kstream: ${line}\n`, argv.join(' '));
  }
  assert.equal(fs.readFileSync(file, 'utf8'), before, 'a refused change leaves the file as it was');
  // a password that is in the file stops every command that reads it, the profile command too
  fs.writeFileSync(file, JSON.stringify({ profiles: { prod: { sasl: { password: 'hunter2' } } } }));
  for (const argv of [['profile', 'list'], ['topics']]) {
    const r = ks(...argv);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^kstream: `profiles\.prod\.sasl\.password` in `.*` is a password: profiles hold no secrets — /);
    assert.ok(!r.stderr.includes('hunter2'));
  }
});

test('profile set through a linked file writes where the link points and keeps the link (and the file\'s mode)', () => {
  const { dir } = setup();
  const real = path.join(dir, 'dotfiles', 'kstream.json');
  fs.mkdirSync(path.dirname(real));
  fs.writeFileSync(real, '{"profiles":{}}', { mode: 0o640 });
  fs.chmodSync(real, 0o640);
  const link = path.join(dir, 'config.json');
  fs.symlinkSync(real, link);
  const r = runSync(['profile', 'set', 'a', '--brokers', 'x:1'], { env: clean(link) });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.deepEqual(JSON.parse(fs.readFileSync(real, 'utf8')), { current: 'a', profiles: { a: { brokers: 'x:1' } } });
  assert.equal(fs.statSync(real).mode & 0o777, 0o640);
  assert.deepEqual(fs.readdirSync(path.dirname(real)), ['kstream.json']);
});
