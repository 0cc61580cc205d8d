// kstream over the test broker's TLS listeners (scripts/kafka.mjs up --sasl, which scripts/test.mjs starts because
// this file mentions KSTREAM_SASL): TLS without SASL, mutual TLS (a client certificate signed by the broker's CA),
// and SASL PLAIN over TLS — each a produce → consume round trip with a group, and each refusing what it must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { itContext } from '../helpers/broker.mjs';
import { run, textLines } from '../helpers/spawn.mjs';

const { adm, name, groupName } = await itContext();
const T = { timeout: 90_000 };
const configFile = process.env.KSTREAM_SASL_CONFIG;
const info = configFile ? JSON.parse(fs.readFileSync(configFile, 'utf8')) : {};
// no KSTREAM_BROKERS: every connection below names its listener
const env = { KSTREAM_BROKERS: undefined, KSTREAM_SASL_PASSWORD: undefined, KSTREAM_SASL_MECHANISM: undefined, KSTREAM_SASL_USERNAME: undefined };

const RECORDS = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, s: `tls-${i}` }));

/**
 * Produces RECORDS with `conn` (creating the topic), reads them back with a group, checks the group committed the
 * end, and that a second group run reads nothing.
 */
async function roundTrip(conn, what, extraEnv = {}) {
  const t = name(what);
  const g = groupName(what);
  const p = await run(['produce', t, '--create', '--quiet', ...conn], { env: { ...env, ...extraEnv }, input: RECORDS.join('\n') + '\n' });
  assert.equal(p.code, 0, p.stderr);
  const c = await run(['consume', t, '--exit', '--group', g, ...conn], { env: { ...env, ...extraEnv } });
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(textLines(c.stdout), RECORDS);
  const offs = await adm.fetchOffsets({ groupId: g, topics: [t] });
  assert.equal(Number(offs[0].partitions[0].offset), RECORDS.length, 'the group committed the end');
  const again = await run(['consume', t, '--exit', '--group', g, ...conn], { env: { ...env, ...extraEnv } });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, '');
  return t;
}

/** A run that fails with exit 1 and one line on stderr matching `re`. */
async function refused(args, re, extraEnv = {}) {
  const r = await run(args, { env: { ...env, ...extraEnv }, timeout: 60_000 });
  assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  return r;
}

test('the broker has the TLS listeners (KSTREAM_SASL_CONFIG from scripts/kafka.mjs up --sasl)', () => {
  assert.ok(configFile, 'KSTREAM_SASL_CONFIG not set — run through `node scripts/test.mjs` (it starts the TLS listeners)');
  for (const k of ['tlsBootstrap', 'mtlsBootstrap', 'clientCertPem', 'clientKeyPem', 'caPem']) assert.ok(info[k], `sasl.json has no ${k} — a broker from before scripts/kafka.mjs made TLS listeners; restart it`);
  assert.ok(info.mechanisms.includes('plain'));
});

test('TLS without SASL: produce and consume with --tls-ca; plaintext, an unknown CA and no CA are refused in one line', T, async () => {
  const conn = ['--brokers', info.tlsBootstrap, '--tls-ca', info.caPem];
  const t = await roundTrip(conn, 'tls');
  // --tls-insecure skips the verification (and still speaks TLS)
  const insecure = await run(['consume', t, '--exit', '--brokers', info.tlsBootstrap, '--tls-insecure'], { env });
  assert.equal(insecure.code, 0, insecure.stderr);
  assert.equal(textLines(insecure.stdout).length, RECORDS.length);
  // the broker's certificate is checked: the system CAs do not know the test CA
  await refused(['consume', t, '--exit', '--brokers', info.tlsBootstrap, '--tls'], /TLS handshake with `127\.0\.0\.1:\d+` failed \(SELF_SIGNED_CERT_IN_CHAIN\) — pass --tls-ca <file>/);
  // the port speaks only TLS
  await refused(['consume', t, '--exit', '--brokers', info.tlsBootstrap], /cannot talk to brokers `127\.0\.0\.1:\d+` \(connection closed by the broker\) — is the port a TLS listener\? add --tls/);
});

test('mutual TLS: with the client certificate and key it works; without them the broker refuses the handshake', T, async () => {
  const conn = ['--brokers', info.mtlsBootstrap, '--tls-ca', info.caPem, '--tls-cert', info.clientCertPem, '--tls-key', info.clientKeyPem];
  const t = await roundTrip(conn, 'mtls');
  // no client certificate: the listener requires one (and the TLS-only listener, above, did not)
  await refused(['consume', t, '--exit', '--brokers', info.mtlsBootstrap, '--tls-ca', info.caPem], /(TLS handshake with|cannot talk to brokers) `127\.0\.0\.1:\d+`.* — .*--tls-cert <file> and --tls-key <file>/);
  // a certificate without its key is a usage error, before any connection
  const half = await run(['consume', t, '--exit', '--brokers', info.mtlsBootstrap, '--tls-ca', info.caPem, '--tls-cert', info.clientCertPem], { env });
  assert.equal(half.code, 2, half.stderr);
  assert.match(half.stderr, /--tls-cert and --tls-key go together/);
  // the key's text never shows in an error
  const key = fs.readFileSync(info.clientKeyPem, 'utf8');
  const body = key.split('\n').find((l) => l.length > 40);
  const bad = await run(['consume', t, '--exit', '--verbose', '--brokers', info.mtlsBootstrap, '--tls', '--tls-cert', info.clientCertPem, '--tls-key', info.clientKeyPem], { env });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /TLS handshake with `127\.0\.0\.1:\d+` failed \(SELF_SIGNED_CERT_IN_CHAIN\)/);
  assert.ok(!bad.stderr.includes(body), 'the client key leaked into --verbose stderr');
});

test('SASL PLAIN over TLS: produce and consume with --sasl-mechanism plain (or KSTREAM_SASL_MECHANISM); a wrong password is one line without secrets', T, async () => {
  const conn = ['--brokers', info.bootstrap, '--tls-ca', info.caPem, '--sasl-username', info.username];
  const t = await roundTrip([...conn, '--sasl-mechanism', 'plain'], 'plain', { KSTREAM_SASL_PASSWORD: info.password });
  const viaEnv = await run(['consume', t, '--exit', ...conn], { env: { ...env, KSTREAM_SASL_PASSWORD: info.password, KSTREAM_SASL_MECHANISM: 'PLAIN' } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.deepEqual(textLines(viaEnv.stdout), RECORDS);
  const wrong = `not-the-password-${Date.now()}`;
  const bad = await refused(['consume', t, '--exit', ...conn, '--sasl-mechanism', 'plain'], /^kstream: authentication failed at `127\.0\.0\.1:\d+` \(.*\) — check --sasl-mechanism, --sasl-username and the password/, { KSTREAM_SASL_PASSWORD: wrong });
  assert.ok(!bad.stderr.includes(wrong) && !bad.stderr.includes(info.password), 'a password leaked into stderr');
  // PLAIN needs TLS here: the SASL listener is SASL_SSL
  await refused(['consume', t, '--exit', '--brokers', info.bootstrap, '--sasl-username', info.username, '--sasl-mechanism', 'plain'], /connection closed by the broker|TLS/, { KSTREAM_SASL_PASSWORD: info.password });
});
