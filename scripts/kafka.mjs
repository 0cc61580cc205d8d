#!/usr/bin/env node
/**
 * A real single-node Apache Kafka (KRaft) broker for tests and benchmarks, run with plain `java` from the
 * Maven Central artifacts (no Docker). See /work/shared/KAFKA.md for the facts this relies on.
 *
 *   node scripts/kafka.mjs up     [--port 9092] [--dir D] [--sasl]   prints `127.0.0.1:<port>` (and `sasl 127.0.0.1:<p>`)
 *
 * With --sasl the broker also listens with TLS, its certificate signed by a self-signed CA (ca.pem in the data
 * dir): SASL_SSL (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, one user), SSL (TLS without SASL) and MTLS (TLS that
 * requires a client certificate signed by the CA; client.pem and client-key.pem in the data dir). sasl.json in the
 * data dir says where: {username, password, mechanism, mechanisms, caPem, bootstrap, tlsBootstrap, mtlsBootstrap,
 * clientCertPem, clientKeyPem}.
 *   node scripts/kafka.mjs down   [--port 9092] [--dir D] [--all]
 *   node scripts/kafka.mjs status [--port N] [--dir D]
 *
 * stdout carries only the bootstrap address line(s); progress and errors go to stderr.
 *
 * The Kafka version is 3.9.1 unless KSTREAM_KAFKA_VERSION names another (3.x or 4.x, as on Maven Central: 4.0.0 …);
 * its jars and TLS material are cached per version (~/.cache/kstream/kafka-<version>). Kafka 4 brokers need Java 17+
 * and log with log4j2 (scripts/kafka/log4j2.properties) instead of reload4j (scripts/kafka/log4j.properties).
 * Also importable: `import { up, down, status, ownTarget } from './kafka.mjs'`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const DEFAULT_KAFKA_VERSION = '3.9.1';
export const KAFKA_VERSION = process.env.KSTREAM_KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION;
/** The major version: 3 or 4 (Kafka 4 dropped ZooKeeper, log4j 1 and Java 11 for the broker). */
export const KAFKA_MAJOR = Number(KAFKA_VERSION.split('.')[0]);
const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(SCRIPT_DIR, '..');
const SUPPORT = path.join(SCRIPT_DIR, 'kafka');
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const SASL_USER = 'kstream';

export class KafkaScriptError extends Error {}
const fail = (msg) => {
  throw new KafkaScriptError(msg);
};

/** KSTREAM_KAFKA_VERSION becomes a cache path and a Maven coordinate: a released 3.x.y or 4.x.y only. */
function checkVersion() {
  if (!/^[34]\.\d+\.\d+$/.test(KAFKA_VERSION))
    fail(`KSTREAM_KAFKA_VERSION=${KAFKA_VERSION} is not a Kafka version this script can run — use 3.x.y or 4.x.y (e.g. 3.9.1, 4.0.0)`);
}
const say = (msg) => process.stderr.write(`kafka: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rel = (p) => {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

// ---------------------------------------------------------------------------------------------------------------
// Paths and state

export function cacheDir() {
  return process.env.KSTREAM_KAFKA_CACHE
    ? path.resolve(process.env.KSTREAM_KAFKA_CACHE)
    : path.join(os.homedir(), '.cache', 'kstream', `kafka-${KAFKA_VERSION}`);
}

function resolveTarget(opts = {}) {
  const port = opts.port === undefined ? 9092 : Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65533) fail(`invalid \`--port ${opts.port}\` — use 1..65533`);
  const dir = path.resolve(opts.dir ?? path.join(REPO, '.kafka', String(port)));
  return { port, dir };
}

const stateFile = (dir) => path.join(dir, 'broker.json');

function readState(dir) {
  try {
    return JSON.parse(fs.readFileSync(stateFile(dir), 'utf8'));
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and (where /proc exists) really is the broker started from `dir`, not a reused pid. */
function isOurBroker(pid, dir) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== 'EPERM') return false;
  }
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('kafka.Kafka') && cmd.includes(path.join(dir, 'server.properties'));
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** The log lines that explain a failed start: its errors if it logged any, else its last lines. */
function tail(file) {
  let lines;
  try {
    lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  } catch {
    return '(no log)';
  }
  const errors = lines.filter((l) => /\b(ERROR|FATAL)\b|^\S*(Exception|Error)\b/.test(l));
  return (errors.length ? errors.slice(-12) : lines.slice(-12)).join('\n');
}

// A lock beside (not inside) the data dir, which gets wiped, so concurrent `up`s for the same dir don't race.
async function withLock(dir, fn) {
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + READY_TIMEOUT_MS + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        /* being written or removed */
      }
      if (holder && !alive(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) fail(`lock \`${rel(lock)}\` held by pid ${holder} — remove it if that process is gone`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tools

function requireTool(cmd, hint) {
  const r = spawnSync(cmd, ['-version'], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') fail(`\`${cmd}\` not found — ${hint}`);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

const JDK_HINT = 'install a JDK 17+ (apt-get install openjdk-17-jre-headless)';

function checkJava() {
  const out = requireTool('java', JDK_HINT);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (m) {
    const major = m[1] === '1' ? Number(m[2]) : Number(m[1]);
    const need = KAFKA_MAJOR >= 4 ? 17 : 11; // Kafka 4's broker and tools are built for Java 17
    if (major < need) fail(`\`java\` is version ${major}; Kafka ${KAFKA_VERSION} needs ${need}+ — ${JDK_HINT}`);
  }
}

function run(cmd, args, what, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status}):\n${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Classpath: kafka_2.13 runtime deps + a logging backend, resolved once with mvn and cached outside the repo

/**
 * What the classpath holds besides kafka_2.13's runtime dependencies, and a jar that shows it does (`needs`).
 * The logging backend the broker's slf4j binds to: Kafka 3.x slf4j-reload4j + reload4j (log4j 1 API); Kafka 4.x logs
 * through log4j2 (its LoggingController, -Dlog4j2.configurationFile) and kafka_2.13 4.x still brings slf4j-api 1.7.x,
 * so log4j-slf4j-impl (the slf4j 1.x binding) + log4j-core. Kafka 4 also moved the console producer out of
 * kafka_2.13 (kafka.tools.ConsoleProducer is gone) into kafka-tools as org.apache.kafka.tools.ConsoleProducer: its
 * jar alone (its dependencies are the broker's, but for connect-runtime, which the console tools don't use).
 */
const EXTRA = KAFKA_MAJOR >= 4
  ? {
    needs: ['log4j-core-', `kafka-tools-${KAFKA_VERSION}.jar`],
    deps: [['org.apache.logging.log4j', 'log4j-slf4j-impl', '2.24.3'], ['org.apache.logging.log4j', 'log4j-core', '2.24.3'],
      ['org.apache.kafka', 'kafka-tools', KAFKA_VERSION, 'alone']],
  }
  : { needs: ['reload4j-'], deps: [['org.slf4j', 'slf4j-reload4j', '1.7.36'], ['ch.qos.reload4j', 'reload4j', '1.2.25']] };

/** The Java client's console producer in the classpath of ensureClasspath() (for interoperability tests). */
export const CONSOLE_PRODUCER_CLASS = KAFKA_MAJOR >= 4 ? 'org.apache.kafka.tools.ConsoleProducer' : 'kafka.tools.ConsoleProducer';

/** The JVM flag that points the broker's (or a Kafka tool's) logging at this directory's config. */
export function logConfigFlag() {
  return KAFKA_MAJOR >= 4
    ? `-Dlog4j2.configurationFile=${pathToFileURL(path.join(SUPPORT, 'log4j2.properties')).href}`
    : `-Dlog4j.configuration=${pathToFileURL(path.join(SUPPORT, 'log4j.properties')).href}`;
}

function pomXml() {
  const none = '\n      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>';
  const deps = EXTRA.deps
    .map(([g, a, v, alone]) => `    <dependency>\n      <groupId>${g}</groupId>\n      <artifactId>${a}</artifactId>\n      <version>${v}</version>${alone ? none : ''}\n    </dependency>`)
    .join('\n');
  return fs.readFileSync(path.join(SUPPORT, 'pom.xml'), 'utf8').replaceAll('@KAFKA_VERSION@', KAFKA_VERSION).replace('@EXTRA_DEPENDENCIES@', deps);
}

/** The jar list has the version's kafka_2.13 and the EXTRA jars (a cache from before EXTRA grew gets re-resolved). */
const completeJars = (jars) => jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`) && EXTRA.needs.every((n) => jars.some((j) => j.startsWith(n)));

export function ensureClasspath() {
  checkVersion();
  const cache = cacheDir();
  const lib = path.join(cache, 'lib');
  const marker = path.join(lib, '.complete');
  try {
    const jars = fs.readFileSync(marker, 'utf8').split('\n').filter(Boolean);
    // the version's own jar too: a KSTREAM_KAFKA_CACHE shared by two versions must not serve the other's jars
    if (completeJars(jars) && jars.every((j) => fs.existsSync(path.join(lib, j)))) return lib;
  } catch {
    /* not resolved yet */
  }
  const mvnOut = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvnOut.error?.code === 'ENOENT')
    fail('`mvn` not found — install Maven (apt-get install maven) to fetch the Kafka jars from Maven Central');
  say(`resolving Kafka ${KAFKA_VERSION} jars with mvn into ${cache} (first run downloads ~100 MB)…`);
  const t0 = Date.now();
  fs.mkdirSync(cache, { recursive: true });
  const pom = path.join(cache, 'pom.xml');
  fs.writeFileSync(pom, pomXml());
  const tmp = path.join(cache, `lib.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const r = spawnSync(
    'mvn',
    ['-B', '-q', '-Dstyle.color=never', '-f', pom, 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies',
      '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`],
    // -q prints nothing but errors (and stray ANSI resets): keep it for a failure
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: cache, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.error) fail(`mvn: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').trim();
    fail(`mvn could not resolve org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (exit ${r.status}) — is Maven Central reachable?\n${out}`);
  }
  const jars = fs.readdirSync(tmp).filter((f) => f.endsWith('.jar')).sort();
  if (!completeJars(jars)) fail(`mvn finished but ${tmp} lacks one of kafka_2.13-${KAFKA_VERSION}.jar, ${EXTRA.needs.join(', ')}`);
  fs.writeFileSync(path.join(tmp, '.complete'), jars.join('\n') + '\n');
  fs.rmSync(lib, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, lib);
  } catch (e) {
    // a concurrent resolver won the rename; its lib is as good as ours
    if (!fs.existsSync(marker)) throw e;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  say(`resolved ${jars.length} jars in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return lib;
}

// ---------------------------------------------------------------------------------------------------------------
// Ports

export function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that the system picked as free just now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function pickPort(preferred, taken) {
  if (preferred <= 65535 && !taken.includes(preferred) && (await portFree(preferred))) return preferred;
  for (;;) {
    const p = await freePort();
    if (!taken.includes(p)) return p;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// TLS + SCRAM (for --sasl)

/**
 * A self-signed CA and a broker keystore for 127.0.0.1, made with keytool. Seven keytool JVMs take ~7 s on a
 * busy 2-core machine, so the material is made once into the jar cache and copied into each fresh data dir.
 */
function makeTls(dir) {
  const cached = path.join(cacheDir(), 'tls');
  const infoFile = path.join(cached, 'tls.json');
  const complete = () => {
    try {
      const info = JSON.parse(fs.readFileSync(infoFile, 'utf8'));
      return fs.existsSync(path.join(cached, 'broker.p12')) && fs.existsSync(path.join(cached, 'ca.pem')) ? info : undefined;
    } catch {
      return undefined;
    }
  };
  let info = complete();
  if (!info) {
    requireTool('keytool', JDK_HINT);
    say('generating a self-signed CA and broker keystore with keytool (cached for later runs)…');
    const tmp = `${cached}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    generateTls(tmp);
    fs.rmSync(cached, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, cached);
    } catch (e) {
      if (!complete()) throw e; // else a concurrent run made it first
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    info = complete();
  }
  makeClientCert(cached, info.password);
  const tls = path.join(dir, 'tls');
  fs.mkdirSync(tls, { recursive: true });
  const keystore = path.join(tls, 'broker.p12');
  const caPem = path.join(dir, 'ca.pem');
  const clientCertPem = path.join(dir, 'client.pem');
  const clientKeyPem = path.join(dir, 'client-key.pem');
  fs.copyFileSync(path.join(cached, 'broker.p12'), keystore);
  fs.copyFileSync(path.join(cached, 'ca.pem'), caPem);
  fs.copyFileSync(path.join(cached, 'client.pem'), clientCertPem);
  fs.copyFileSync(path.join(cached, 'client-key.pem'), clientKeyPem);
  fs.chmodSync(clientKeyPem, 0o600);
  return { keystore, password: info.password, caPem, clientCertPem, clientKeyPem };
}

/**
 * A client certificate for mutual TLS, signed by the cached CA, as PEM files beside it (client.pem, client-key.pem):
 * made once, after the CA (caches from before it existed get it added). The key and request come from openssl
 * (keytool cannot write a PEM key); the CA signs with keytool. Written to temporary names and renamed.
 */
function makeClientCert(cached, pass) {
  const cert = path.join(cached, 'client.pem');
  const key = path.join(cached, 'client-key.pem');
  if (fs.existsSync(cert) && fs.existsSync(key)) return;
  requireTool('keytool', JDK_HINT);
  const ssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (ssl.error?.code === 'ENOENT') fail('`openssl` not found — it makes the client certificate of the mutual-TLS listener (apt-get install openssl)');
  say('making a client certificate for mutual TLS (cached for later runs)…');
  const tmp = `${cached}/client.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const csr = path.join(tmp, 'client.csr');
  run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kstream-test-client', '-keyout', path.join(tmp, 'client-key.pem'), '-out', csr], 'openssl req');
  run('keytool', ['-J-XX:TieredStopAtLevel=1', '-gencert', '-rfc', '-alias', 'ca', '-keystore', path.join(cached, 'ca.p12'), '-storepass', pass, '-infile', csr,
    '-outfile', path.join(tmp, 'client.pem'), '-validity', '3650', '-ext', 'eku=clientAuth'], 'keytool -gencert (client)');
  // the key last: a cache with client-key.pem has client.pem too
  fs.renameSync(path.join(tmp, 'client.pem'), cert);
  fs.renameSync(path.join(tmp, 'client-key.pem'), key);
  fs.rmSync(tmp, { recursive: true, force: true });
}

function generateTls(out) {
  const pass = randomBytes(12).toString('hex');
  const ca = path.join(out, 'ca.p12');
  const ks = path.join(out, 'broker.p12');
  const caPem = path.join(out, 'ca.pem');
  const csr = path.join(out, 'broker.csr');
  const crt = path.join(out, 'broker.pem');
  // keytool is a JVM per call; the C1-only JIT shortens each launch
  const kt = (...args) => run('keytool', ['-J-XX:TieredStopAtLevel=1', ...args], `keytool ${args[0]}`);
  const common = ['-storetype', 'PKCS12', '-storepass', pass, '-keypass', pass];
  kt('-genkeypair', '-alias', 'ca', '-dname', 'CN=kstream test CA', '-keyalg', 'RSA', '-keysize', '2048',
    '-validity', '3650', '-ext', 'bc:c', '-keystore', ca, ...common);
  kt('-exportcert', '-rfc', '-alias', 'ca', '-keystore', ca, '-storepass', pass, '-file', caPem);
  kt('-genkeypair', '-alias', 'broker', '-dname', 'CN=127.0.0.1', '-keyalg', 'RSA', '-keysize', '2048',
    '-validity', '3650', '-keystore', ks, ...common);
  kt('-certreq', '-alias', 'broker', '-keystore', ks, '-storepass', pass, '-file', csr);
  kt('-gencert', '-rfc', '-alias', 'ca', '-keystore', ca, '-storepass', pass, '-infile', csr, '-outfile', crt,
    '-validity', '3650', '-ext', 'san=ip:127.0.0.1,dns:localhost', '-ext', 'eku=serverAuth');
  kt('-importcert', '-noprompt', '-alias', 'ca', '-file', caPem, '-keystore', ks, '-storepass', pass);
  kt('-importcert', '-noprompt', '-alias', 'broker', '-file', crt, '-keystore', ks, '-storepass', pass);
  fs.writeFileSync(path.join(out, 'tls.json'), JSON.stringify({ password: pass, created: new Date().toISOString() }) + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Broker config

function serverProperties({ dir, port, controllerPort, saslPort, tlsPort, mtlsPort, tls, password }) {
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`];
  const protoMap = ['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT'];
  if (saslPort) {
    listeners.push(`SASL_SSL://127.0.0.1:${saslPort}`);
    protoMap.push('SASL_SSL:SASL_SSL');
  }
  if (tlsPort) {
    listeners.push(`SSL://127.0.0.1:${tlsPort}`);
    protoMap.push('SSL:SSL');
  }
  if (mtlsPort) {
    listeners.push(`MTLS://127.0.0.1:${mtlsPort}`);
    protoMap.push('MTLS:SSL');
  }
  const props = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: listeners.join(','),
    'advertised.listeners': listeners.filter((l) => !l.startsWith('CONTROLLER')).join(','),
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': protoMap.join(','),
    'log.dirs': path.join(dir, 'data'),
    'num.partitions': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'group.initial.rebalance.delay.ms': 0,
    // Records here carry event-time timestamps from the past (gen's fixed 2026-01-01 epoch, test fixtures): the
    // default 7-day time retention deleted them mid-test whenever its 5-minute check came round. Keep by size only.
    'log.retention.ms': -1,
    'log.retention.bytes': 4 * 1024 * 1024 * 1024,
    // a missing topic must be a real error, not silently created
    'auto.create.topics.enable': false,
    'delete.topic.enable': true,
  };
  if (KAFKA_MAJOR >= 4) {
    // Kafka 4 has share groups (KIP-932), whose state topic defaults to 3 replicas and min.isr 2 like the others
    Object.assign(props, {
      'share.coordinator.state.topic.replication.factor': 1,
      'share.coordinator.state.topic.min.isr': 1,
      'share.coordinator.state.topic.num.partitions': 1,
    });
  }
  if (saslPort) {
    Object.assign(props, {
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      // PLAIN: the same user and password as SCRAM, from the JAAS line (the hex password needs no quoting)
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${password}";`,
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': tls.keystore,
      'ssl.keystore.password': tls.password,
      'ssl.key.password': tls.password,
      'ssl.client.auth': 'none',
    });
  }
  if (mtlsPort) {
    // the broker keystore holds the CA as a trusted entry: it is the truststore too
    Object.assign(props, {
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.mtls.ssl.truststore.type': 'PKCS12',
      'listener.name.mtls.ssl.truststore.location': tls.keystore,
      'listener.name.mtls.ssl.truststore.password': tls.password,
    });
  }
  // java.util.Properties treats backslashes as escapes; paths here are POSIX
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Readiness probe with kafkajs (imported lazily so `down`/`status` and tool errors work without node_modules)

async function probe(brokers, extra = {}, groups = false) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'kstream-kafka-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    requestTimeout: 5000,
    retry: { retries: 0 },
    ...extra,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    // The first group lookup on a fresh broker creates __consumer_offsets and answers "coordinator not available"
    // until it exists; waiting for it here spares every client its first-group retries.
    if (groups) await admin.describeGroups(['kstream-readiness-probe']);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function saslClientConfig(dir) {
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'sasl.json'), 'utf8'));
  return {
    ssl: { ca: [fs.readFileSync(info.caPem, 'utf8')] },
    sasl: { mechanism: 'scram-sha-256', username: info.username, password: info.password },
  };
}

async function waitReady(state, dir, timeoutMs = READY_TIMEOUT_MS) {
  const log = path.join(dir, 'kafka.log');
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  const targets = [[`127.0.0.1:${state.port}`, {}, true]];
  if (state.saslPort) targets.push([`127.0.0.1:${state.saslPort}`, saslClientConfig(dir), false]);
  if (state.tlsPort) targets.push([`127.0.0.1:${state.tlsPort}`, { ssl: saslClientConfig(dir).ssl }, false]);
  if (state.mtlsPort) {
    const ssl = { ...saslClientConfig(dir).ssl, cert: fs.readFileSync(path.join(dir, 'client.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'client-key.pem'), 'utf8') };
    targets.push([`127.0.0.1:${state.mtlsPort}`, { ssl }, false]);
  }
  for (const [addr, extra, groups] of targets) {
    for (;;) {
      if (!isOurBroker(state.pid, dir)) fail(`broker (pid ${state.pid}) exited during startup — see ${rel(log)}:\n${tail(log)}`);
      try {
        await probe([addr], extra, groups);
        break;
      } catch (e) {
        lastErr = e;
      }
      if (Date.now() > deadline)
        fail(`broker at ${addr} not reachable after ${timeoutMs / 1000}s (${lastErr?.message ?? 'no answer'}) — see ${rel(log)}`);
      await sleep(250);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

/** What `StorageTool random-uuid` prints (Kafka's Uuid.randomUuid), without a JVM launch: 16 random bytes in
 *  unpadded base64url, never starting with '-' (Kafka rejects that as it reads like a command-line flag). */
function randomClusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function describe(state) {
  const lines = [`127.0.0.1:${state.port}`];
  if (state.saslPort) lines.push(`sasl 127.0.0.1:${state.saslPort}`);
  return lines;
}

/**
 * Starts (or reuses) a broker. Returns { bootstrap, saslBootstrap?, saslConfig?, dir, pid, reused, lines }.
 * `lines` are what the CLI prints on stdout.
 */
export async function up(opts = {}) {
  const { port, dir } = resolveTarget(opts);
  const sasl = !!opts.sasl;
  return withLock(dir, async () => {
    const prev = readState(dir);
    if (prev && isOurBroker(prev.pid, dir)) {
      if ((prev.version ?? DEFAULT_KAFKA_VERSION) !== KAFKA_VERSION)
        fail(`broker on 127.0.0.1:${port} (${rel(dir)}) runs Kafka ${prev.version ?? DEFAULT_KAFKA_VERSION}, not ${KAFKA_VERSION} (KSTREAM_KAFKA_VERSION) — stop it first: node scripts/kafka.mjs down --port ${port}`);
      if (sasl && !prev.saslPort)
        fail(`broker on 127.0.0.1:${port} (${rel(dir)}) runs without SASL — stop it first: node scripts/kafka.mjs down --port ${port}`);
      await waitReady(prev, dir);
      say(`reusing broker pid ${prev.pid} from ${rel(dir)}`);
      return result(prev, dir, true);
    }
    if (prev) say(`broker from ${rel(dir)} is gone (pid ${prev.pid}); starting a fresh one`);
    if (!(await portFree(port)))
      fail(`port ${port} on 127.0.0.1 is in use by something that is not a broker from ${rel(dir)} — stop it or pass \`--port\``);

    checkVersion();
    checkJava();
    const lib = ensureClasspath();
    const t0 = Date.now();
    const controllerPort = await pickPort(port + 1, [port]);
    const saslPort = sasl ? await pickPort(port + 2, [port, controllerPort]) : undefined;
    const tlsPort = sasl ? await pickPort(port + 3, [port, controllerPort, saslPort]) : undefined;
    const mtlsPort = sasl ? await pickPort(port + 4, [port, controllerPort, saslPort, tlsPort]) : undefined;

    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const tls = sasl ? makeTls(dir) : undefined;
    const password = sasl ? randomBytes(12).toString('hex') : undefined;
    const props = path.join(dir, 'server.properties');
    fs.writeFileSync(props, serverProperties({ dir, port, controllerPort, saslPort, tlsPort, mtlsPort, tls, password }));

    const cp = path.join(lib, '*'); // expanded by java, not the shell
    const log4j = logConfigFlag();
    const toolJvm = ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-cp', cp, log4j];
    const clusterId = randomClusterId();
    const formatArgs = ['format', '-t', clusterId, '-c', props];
    if (sasl) {
      for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-512'])
        formatArgs.push('--add-scram', `${mech}=[name=${SASL_USER},password=${password}]`);
    }
    run('java', [...toolJvm, 'kafka.tools.StorageTool', ...formatArgs], 'StorageTool format');
    if (sasl) {
      const info = {
        username: SASL_USER, password, mechanism: 'scram-sha-256', mechanisms: ['scram-sha-256', 'scram-sha-512', 'plain'], caPem: tls.caPem, bootstrap: `127.0.0.1:${saslPort}`,
        tlsBootstrap: `127.0.0.1:${tlsPort}`, mtlsBootstrap: `127.0.0.1:${mtlsPort}`, clientCertPem: tls.clientCertPem, clientKeyPem: tls.clientKeyPem,
      };
      fs.writeFileSync(path.join(dir, 'sasl.json'), JSON.stringify(info, null, 2) + '\n');
    }

    const logFile = path.join(dir, 'kafka.log');
    const logFd = fs.openSync(logFile, 'a');
    const child = spawn(
      'java',
      ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true', log4j,
        '-cp', cp, 'kafka.Kafka', props],
      { detached: true, stdio: ['ignore', logFd, logFd], cwd: dir },
    );
    fs.closeSync(logFd);
    child.unref();
    const state = { pid: child.pid, port, controllerPort, saslPort, tlsPort, mtlsPort, dir, version: KAFKA_VERSION, startedAt: new Date().toISOString() };
    fs.writeFileSync(path.join(dir, 'kafka.pid'), `${child.pid}\n`);
    fs.writeFileSync(stateFile(dir), JSON.stringify(state, null, 2) + '\n');
    say(`started pid ${child.pid} (log ${rel(logFile)}), waiting for 127.0.0.1:${port}…`);
    try {
      await waitReady(state, dir);
    } catch (e) {
      await stopPid(state.pid, dir); // leave the dir so the log can be read
      throw e;
    }
    say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return result(state, dir, false);
  });
}

function result(state, dir, reused) {
  const r = { bootstrap: `127.0.0.1:${state.port}`, dir, pid: state.pid, reused, lines: describe(state) };
  if (state.saslPort) {
    r.saslBootstrap = `127.0.0.1:${state.saslPort}`;
    r.saslConfig = path.join(dir, 'sasl.json');
  }
  return r;
}

async function stopPid(pid, dir) {
  if (!isOurBroker(pid, dir)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await sleep(100);
  }
  say(`pid ${pid} ignored SIGTERM for ${STOP_GRACE_MS / 1000}s; sending SIGKILL`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  while (alive(pid)) await sleep(50);
  return true;
}

/** Synchronous last resort for an exiting process: SIGTERM the broker from `dir` without waiting or cleaning up. */
export function signalStop(opts = {}) {
  const { dir } = resolveTarget(opts);
  const state = readState(dir);
  if (state && isOurBroker(state.pid, dir)) {
    try {
      process.kill(state.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}

/**
 * Where a caller's own broker goes (a test or bench that kills and restarts it): a free port and the data dir
 * `.kafka/<name>-<port>`, whose broker is SIGTERMed (signalStop) when this process exits. Pass it to `up`;
 * `down({ dir })` stops it.
 */
export async function ownTarget(name) {
  const port = await freePort();
  const dir = path.join(REPO, '.kafka', `${name}-${port}`);
  process.on('exit', () => signalStop({ dir }));
  return { port, dir };
}

/** Stops the broker from `dir` (if any) and removes the dir. Quiet when nothing runs. */
export async function down(opts = {}) {
  if (opts.all) {
    for (const d of knownDirs()) await down({ dir: d });
    return;
  }
  const { dir } = resolveTarget(opts);
  const stop = async () => {
    const state = readState(dir);
    if (state && (await stopPid(state.pid, dir))) say(`stopped pid ${state.pid} (${rel(dir)})`);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (!opts.noLock) return withLock(dir, stop);
  // noLock: for a signal handler in a process that may itself be inside up() for this dir
  await stop();
  try {
    if (Number(fs.readFileSync(path.join(`${dir}.lock`, 'pid'), 'utf8')) === process.pid) fs.rmSync(`${dir}.lock`, { recursive: true, force: true });
  } catch {
    /* no lock */
  }
}

function knownDirs() {
  const root = path.join(REPO, '.kafka');
  let names = [];
  try {
    names = fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.endsWith('.lock')).map((d) => d.name);
  } catch {
    /* none */
  }
  return names.sort().map((n) => path.join(root, n));
}

/** One entry per broker dir: { dir, running, ready, lines, pid }. */
export async function status(opts = {}) {
  const dirs = opts.port !== undefined || opts.dir !== undefined ? [resolveTarget(opts).dir] : knownDirs();
  const out = [];
  for (const dir of dirs) {
    const state = readState(dir);
    const running = !!state && isOurBroker(state.pid, dir);
    let ready = false;
    if (running) {
      try {
        await probe([`127.0.0.1:${state.port}`]);
        ready = true;
      } catch {
        /* not answering */
      }
    }
    out.push({ dir, pid: state?.pid, running, ready, lines: state ? describe(state) : [] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) fail(`\`${flag}\` needs a value`);
      return argv[++i];
    };
    if (flag === '--port' || flag === '-p') opts.port = value();
    else if (flag === '--dir') opts.dir = value();
    else if (flag === '--sasl') opts.sasl = true;
    else if (flag === '--all') opts.all = true;
    else if (flag.startsWith('-')) fail(`unknown option \`${flag}\` — use --port N, --dir D, --sasl (up), --all (down)`);
    else rest.push(a);
  }
  return { opts, rest };
}

async function main(argv) {
  const { opts, rest } = parseArgs(argv);
  const cmd = rest[0];
  if (cmd === 'up') {
    const r = await up(opts);
    process.stdout.write(r.lines.join('\n') + '\n');
  } else if (cmd === 'down') {
    await down(opts);
  } else if (cmd === 'status') {
    const list = await status(opts);
    if (!list.length) say('no brokers (nothing under .kafka/)');
    for (const s of list) {
      const what = s.running ? (s.ready ? `running pid ${s.pid}` : `running pid ${s.pid}, not answering`) : 'stopped';
      process.stdout.write(`${s.lines.join(' ') || '-'}\t${what}\t${rel(s.dir)}\n`);
    }
    if ((opts.port !== undefined || opts.dir !== undefined) && !list[0]?.ready) process.exitCode = 1;
  } else {
    fail(`${cmd ? `unknown command \`${cmd}\`` : 'missing command'} — use up, down or status`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`kafka: ${e instanceof KafkaScriptError ? e.message : e?.stack ?? e}\n`);
    process.exit(1);
  });
}
