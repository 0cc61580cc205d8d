/**
 * Connection options shared by every Kafka command (consume, produce, topics, groups, bench): brokers, client id,
 * SASL and TLS, each also from the environment or a named profile (src/kafka/profile.ts), and as `-X` client
 * settings named as librdkafka names them. Secrets come only from the environment or a file, never from the command
 * line (where `ps` and shell history would show them) or a profile, and never appear in messages.
 */
import fs from 'node:fs';
import process from 'node:process';
import type { OptionSpec, Opts } from '../pipeline/command.js';
import { UsageError } from '../pipeline/errors.js';
import { writeErr } from '../runtime.js';
import { chooseProfile, profilePath, type Chosen, type Profile } from './profile.js';

export const DEFAULT_BROKERS = '127.0.0.1:9092';

const ms = (what: string) => (text: string, key: string): string => {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`invalid -X ${key}=${text}`, `use whole ${what}, as librdkafka does`);
  return `${text.trim()}ms`;
};

const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/**
 * `-X` values that read as kstream's, for settings of the options below and the commands' own (`ms` for the
 * librdkafka properties counted in milliseconds).
 */
export const settingValue = {
  ms: ms('milliseconds'),
  bytes(text: string, key: string): string {
    if (!/^\d+$/.test(text.trim())) throw new UsageError(`invalid -X ${key}=${text}`, 'use a whole number of bytes, as librdkafka does');
    return text.trim();
  },
  /** librdkafka's names for where a partition without a committed offset starts: kstream's --offset start | end. */
  offsetReset(text: string, key: string): string {
    const t = text.toLowerCase();
    if (['earliest', 'smallest', 'beginning'].includes(t)) return 'start';
    if (['latest', 'largest', 'end'].includes(t)) return 'end';
    throw new UsageError(`invalid -X ${key}=${text}`, 'use earliest or latest (kstream has no `error` reset: --offset says where to start)');
  },
  protocol(text: string, key: string): boolean {
    const p = text.toUpperCase();
    if (!SECURITY_PROTOCOLS.includes(p)) throw new UsageError(`invalid -X ${key}=${text}`, `use ${SECURITY_PROTOCOLS.join(', ')}`);
    return p.endsWith('SSL');
  },
  mechanism(text: string, key: string): string {
    const m = text.toLowerCase();
    if (!(MECHANISMS as string[]).includes(m)) throw new UsageError(`invalid -X ${key}=${text}`, 'kstream speaks SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512');
    return m;
  },
  noVerify(text: string, key: string): boolean {
    if (!/^(true|false|1|0)$/i.test(text)) throw new UsageError(`invalid -X ${key}=${text}`, 'use true or false');
    return /^(false|0)$/i.test(text);
  },
  secret(_text: string, key: string): never {
    if (key === 'ssl.key.password') throw new UsageError('`-X ssl.key.password` is refused: command lines show in ps and shell history', 'kstream reads an unencrypted PEM key (--tls-key <file>): keep it in a file only you can read');
    throw new UsageError(`\`-X ${key}\` is refused: command lines show in ps and shell history`, 'set KSTREAM_SASL_PASSWORD or use --sasl-password-file <file>');
  },
};

/** `-X key=value`, on every command with client settings (the keys come from the settings of its options). */
export const SETTINGS_OPTION: OptionSpec = { flags: '-X <key=value>', kind: 'list', description: 'A client setting as librdkafka and kcat name it (repeatable): counts as the option listed with its key as (-X …)' };
/** librdkafka's names for the broker list. */
export const BROKERS_SETTING = { keys: ['bootstrap.servers', 'metadata.broker.list'] };

export const CONNECTION_OPTIONS: OptionSpec[] = [
  { flags: '--brokers <list>', description: `Bootstrap brokers host:port[,host:port] (else KSTREAM_BROKERS, KAFKA_BROKERS, the profile, ${DEFAULT_BROKERS})`, setting: BROKERS_SETTING },
  { flags: '--profile <name>', description: 'Connection profile to use (else KSTREAM_PROFILE, else the current one): see `kstream profile`' },
  { flags: '--client-id <id>', description: 'Client id the brokers see (else the profile\'s, else kstream)', setting: { keys: ['client.id'] } },
  { flags: '--sasl-mechanism <m>', description: 'SASL: plain | scram-sha-256 | scram-sha-512 (else KSTREAM_SASL_MECHANISM, the profile\'s)', setting: { keys: ['sasl.mechanism', 'sasl.mechanisms'], value: settingValue.mechanism } },
  { flags: '--sasl-username <user>', description: 'SASL user (else KSTREAM_SASL_USERNAME, the profile\'s)', setting: { keys: ['sasl.username'] } },
  { flags: '--sasl-password-file <file>', kind: 'file', description: 'File holding the SASL password (else env KSTREAM_SASL_PASSWORD, the profile\'s passwordFile)' },
  { flags: '--sasl-password <password>', description: 'Refused: command lines show in ps and shell history — use KSTREAM_SASL_PASSWORD or --sasl-password-file', setting: { keys: ['sasl.password', 'ssl.key.password'], value: settingValue.secret, refused: true } },
  { flags: '--tls', description: 'Connect with TLS (implied by the other --tls-* options; security.protocol PLAINTEXT or SASL_PLAINTEXT turns it off, and SASL_* needs a mechanism)', setting: { keys: ['security.protocol'], value: settingValue.protocol } },
  { flags: '--tls-ca <file>', kind: 'file', description: 'PEM file of the CA that signed the brokers\' certificates', setting: { keys: ['ssl.ca.location'] } },
  { flags: '--tls-cert <file>', kind: 'file', description: 'PEM client certificate (mutual TLS)', setting: { keys: ['ssl.certificate.location'] } },
  { flags: '--tls-key <file>', kind: 'file', description: 'PEM key of the client certificate', setting: { keys: ['ssl.key.location'] } },
  { flags: '--tls-insecure', description: 'Do not verify the brokers\' certificates (testing only)', setting: { keys: ['enable.ssl.certificate.verification'], value: settingValue.noVerify } },
  SETTINGS_OPTION,
];

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaConfig {
  brokers: string[];
  /** Where the broker list came from (`--brokers`, `KSTREAM_BROKERS`, `profile prod`, `default`), for the hint of an unreachable one. */
  brokersFrom?: string;
  /** What turned TLS on (`--tls`, `-X security.protocol=SSL`, `profile prod`), for the hint of a refused handshake. */
  tlsFrom?: string;
  clientId: string;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  /** Where the client's own diagnostics go under --verbose; otherwise they are dropped. */
  log?: (line: string) => void;
  /** Lines a user should see unless --quiet: a lost connection being retried, and its recovery. */
  notice?: (line: string) => void;
}

export const MECHANISMS: SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/**
 * The `-X security.protocol` of these options, if one was given: it stands for --tls (TLS on or off) and also says
 * whether SASL is wanted (SASL_*), which no option holds, so it is read back from the setting's record.
 */
export function securityProtocol(opts: Opts): { text: string; sasl: boolean } | undefined {
  const text = /^security\.protocol=(.*)$/s.exec((opts.setBy as Record<string, string> | undefined)?.tls ?? '')?.[1];
  return text === undefined ? undefined : { text, sasl: text.toUpperCase().startsWith('SASL_') };
}

function readSecretFile(path: string, what: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} \`${path}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path and its permissions');
  }
}

/** Parses `--brokers` lists: commas or spaces between entries, a default port of 9092 when none is given. */
export function parseBrokers(input: string): string[] {
  const list = input.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('empty broker list', 'use host:port, e.g. --brokers 127.0.0.1:9092');
  return list.map((b) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(b.replace(/^[a-z]+:\/\//i, ''));
    if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
      throw new UsageError(`invalid broker \`${b}\``, 'use host:port, e.g. --brokers 127.0.0.1:9092');
    }
    return `${m[1]}:${m[2] ?? 9092}`;
  });
}

/** Where a connection setting came from: `--brokers`, `-X bootstrap.servers=…`, `KSTREAM_BROKERS`, `profile prod`, `default`. */
export interface Field<T> {
  value: T;
  from: string;
}

/** The connection a command would open, each field with its origin; secrets and files named, not read. */
export interface Resolved {
  profile?: Chosen;
  brokers: Field<string[]>;
  clientId: Field<string>;
  sasl?: { mechanism: Field<SaslMechanism>; username: Field<string>; password: Field<{ file: string } | { env: string }> };
  tls?: { on: string; ca?: Field<string>; cert?: Field<string>; key?: Field<string>; insecure: Field<boolean> };
}

/** How an option given for this run is named in messages: the flag, or the `-X` setting that stood for it. */
function given(opts: Opts, key: string, flag: string): string {
  const x = (opts.setBy as Record<string, string> | undefined)?.[key];
  return x ? `-X ${x}` : flag;
}

const text = (v: unknown): string | undefined => (v === undefined || v === true ? undefined : String(v));

/**
 * Resolves the connection field by field: flags (and `-X` settings, which count as flags) first, then the
 * environment, then the profile (--profile, KSTREAM_PROFILE or the file's current one), then the default.
 */
export function resolveConnection(opts: Opts, env: NodeJS.ProcessEnv = process.env, chosen = chooseProfile(opts.profile, env)): Resolved {
  if (opts.saslPassword !== undefined) {
    throw new UsageError('passwords are not taken on the command line', 'set KSTREAM_SASL_PASSWORD or use --sasl-password-file <file>');
  }
  const p = chosen?.profile ?? {};
  const fromProfile = chosen ? `profile ${chosen.name}` : '';
  const pathOf = (v: string) => profilePath(chosen!.file, v, env);

  let brokers: Field<string>;
  if (text(opts.brokers) !== undefined) brokers = { value: text(opts.brokers)!, from: given(opts, 'brokers', '--brokers') };
  else if (env.KSTREAM_BROKERS) brokers = { value: env.KSTREAM_BROKERS, from: 'KSTREAM_BROKERS' };
  else if (env.KAFKA_BROKERS) brokers = { value: env.KAFKA_BROKERS, from: 'KAFKA_BROKERS' };
  else if (p.brokers !== undefined) brokers = { value: p.brokers, from: fromProfile };
  else brokers = { value: DEFAULT_BROKERS, from: 'default' };
  let list: string[];
  try {
    list = parseBrokers(brokers.value);
  } catch (e) {
    if (!(e instanceof UsageError) || brokers.from !== fromProfile) throw e;
    throw new UsageError(`${e.message} in profile \`${chosen!.name}\` (\`${chosen!.file}\`)`, 'fix its "brokers": host:port[,host:port]');
  }
  const out: Resolved = {
    profile: chosen,
    brokers: { value: list, from: brokers.from },
    clientId: text(opts.clientId) !== undefined ? { value: text(opts.clientId)!, from: given(opts, 'clientId', '--client-id') }
      : p.clientId !== undefined ? { value: p.clientId, from: fromProfile } : { value: 'kstream', from: 'default' },
  };

  // A profile's SASL and TLS belong to its brokers: sent to other brokers (named by --brokers or KSTREAM_BROKERS) they
  // would present one cluster's credentials to another. The same brokers named again (bench --brokers, which is how
  // bench turns to Kafka) keep them; a profile that names no brokers lends them to any.
  const own = p.brokers === undefined || brokers.from === fromProfile ? undefined : ownBrokers(p.brokers);
  const pa: Profile = own === undefined || list.every((b) => own.includes(b)) ? p : {};

  // -X security.protocol says both whether TLS is on (opts.tls) and whether SASL is: SASL_* needs it, the others exclude it
  const sp = securityProtocol(opts);
  const protocol = sp && `-X security.protocol=${sp.text}`;
  const saslWanted = sp?.sasl;

  const pick = (flagKey: string, flag: string, envName: string | undefined, prof: string | undefined): Field<string> | undefined => {
    if (text(opts[flagKey]) !== undefined) return { value: text(opts[flagKey])!, from: given(opts, flagKey, flag) };
    if (envName && env[envName]) return { value: env[envName]!, from: envName };
    if (prof !== undefined) return { value: prof, from: fromProfile };
    return undefined;
  };
  const flagSasl = (['saslMechanism', 'saslUsername', 'saslPasswordFile'] as const).find((k) => text(opts[k]) !== undefined);
  if (saslWanted === false && flagSasl) {
    const names = { saslMechanism: '--sasl-mechanism', saslUsername: '--sasl-username', saslPasswordFile: '--sasl-password-file' };
    throw new UsageError(`\`${protocol}\` has no SASL, but \`${given(opts, flagSasl, names[flagSasl])}\` sets it`, 'use SASL_SSL or SASL_PLAINTEXT, or leave the SASL settings out');
  }
  // with security.protocol PLAINTEXT or SSL, SASL from the environment or the profile is overruled
  if (saslWanted !== false) {
    const mechanism = pick('saslMechanism', '--sasl-mechanism', 'KSTREAM_SASL_MECHANISM', pa.sasl?.mechanism);
    const username = pick('saslUsername', '--sasl-username', 'KSTREAM_SASL_USERNAME', pa.sasl?.username);
    let password: Field<{ file: string } | { env: string }> | undefined;
    if (text(opts.saslPasswordFile) !== undefined) password = { value: { file: text(opts.saslPasswordFile)! }, from: '--sasl-password-file' };
    else if (env.KSTREAM_SASL_PASSWORD !== undefined) password = { value: { env: 'KSTREAM_SASL_PASSWORD' }, from: 'KSTREAM_SASL_PASSWORD' };
    else if (pa.sasl?.passwordFile !== undefined) password = { value: { file: pathOf(pa.sasl.passwordFile) }, from: fromProfile };
    if (saslWanted && !mechanism) {
      throw new UsageError(`\`${protocol}\` needs a SASL mechanism`, 'add -X sasl.mechanism=PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (or --sasl-mechanism)');
    }
    if (mechanism || username || text(opts.saslPasswordFile) !== undefined || pa.sasl !== undefined) {
      const m = (mechanism?.value ?? 'plain').toLowerCase() as SaslMechanism;
      if (!MECHANISMS.includes(m)) {
        throw new UsageError(`unknown SASL mechanism \`${mechanism!.value}\`${mechanism!.from === fromProfile ? ` in profile \`${chosen!.name}\`` : ''}`, 'use plain, scram-sha-256 or scram-sha-512');
      }
      if (!username) throw new UsageError('SASL needs a user', `pass --sasl-username <user> or set KSTREAM_SASL_USERNAME${chosen ? ` (or "username" in profile \`${chosen.name}\`)` : ''}`);
      if (!password) throw new UsageError('SASL needs a password', `set KSTREAM_SASL_PASSWORD or pass --sasl-password-file <file>${chosen ? ` (or "passwordFile" in profile \`${chosen.name}\`)` : ''}`);
      out.sasl = { mechanism: { value: m, from: mechanism?.from ?? 'default' }, username, password };
    }
  }

  const tlsFlags: [string, string][] = [['tlsCa', '--tls-ca'], ['tlsCert', '--tls-cert'], ['tlsKey', '--tls-key'], ['tlsInsecure', '--tls-insecure']];
  const flagTls = tlsFlags.find(([k]) => (k === 'tlsInsecure' ? opts[k] === true : text(opts[k]) !== undefined));
  if (opts.tls === false) {
    if (flagTls) throw new UsageError(`\`${given(opts, 'tls', '--no-tls')}\` turns TLS off, but \`${given(opts, flagTls[0], flagTls[1])}\` needs it`, protocol ? 'use security.protocol=SSL or SASL_SSL, or leave the TLS settings out' : 'keep one');
  } else if (opts.tls === true || flagTls || pa.tls) {
    const on = opts.tls === true ? given(opts, 'tls', '--tls') : flagTls ? given(opts, flagTls[0], flagTls[1]) : fromProfile;
    const file = (key: string, flag: string, prof: string | undefined): Field<string> | undefined =>
      text(opts[key]) !== undefined ? { value: text(opts[key])!, from: given(opts, key, flag) } : prof !== undefined ? { value: pathOf(prof), from: fromProfile } : undefined;
    const tls: NonNullable<Resolved['tls']> = {
      on,
      ca: file('tlsCa', '--tls-ca', pa.tls?.ca),
      cert: file('tlsCert', '--tls-cert', pa.tls?.cert),
      key: file('tlsKey', '--tls-key', pa.tls?.key),
      insecure: typeof opts.tlsInsecure === 'boolean' ? { value: opts.tlsInsecure, from: given(opts, 'tlsInsecure', '--tls-insecure') }
        : pa.tls?.insecure !== undefined ? { value: pa.tls.insecure, from: fromProfile } : { value: false, from: 'default' },
    };
    if (!!tls.cert !== !!tls.key) {
      const has = (tls.cert ?? tls.key)!;
      throw new UsageError('--tls-cert and --tls-key go together', `pass both for mutual TLS, or neither (${tls.cert ? 'the certificate' : 'the key'} comes from ${has.from})`);
    }
    out.tls = tls;
  }
  return out;
}

/** A profile's broker list as host:port entries; one that does not parse matches nothing (it is refused where used). */
function ownBrokers(text: string): string[] {
  try {
    return parseBrokers(text);
  } catch {
    return [];
  }
}

/** Builds the client configuration from parsed command options, the environment and the profile (resolveConnection). */
export function connectionConfig(opts: Opts, env: NodeJS.ProcessEnv = process.env, log?: (line: string) => void): KafkaConfig {
  const r = resolveConnection(opts, env);
  const cfg: KafkaConfig = {
    brokers: r.brokers.value,
    brokersFrom: r.brokers.from,
    clientId: r.clientId.value,
    log,
    notice: opts.quiet ? undefined : writeErr,
  };
  if (r.sasl) {
    const pw = r.sasl.password.value;
    const password = 'file' in pw ? readSecretFile(pw.file, 'SASL password file').replace(/\r?\n$/, '') : env[pw.env]!;
    cfg.sasl = { mechanism: r.sasl.mechanism.value, username: r.sasl.username.value, password };
  }
  if (r.tls) {
    cfg.tls = {
      ca: r.tls.ca ? readSecretFile(r.tls.ca.value, 'CA file') : undefined,
      cert: r.tls.cert ? readSecretFile(r.tls.cert.value, 'certificate file') : undefined,
      key: r.tls.key ? readSecretFile(r.tls.key.value, 'key file') : undefined,
      rejectUnauthorized: !r.tls.insecure.value,
    };
    cfg.tlsFrom = r.tls.on;
  }
  return cfg;
}

/** Replaces every secret of the configuration in a message (kafkajs errors can echo configuration). */
export function scrubSecrets(text: string, cfg: KafkaConfig | undefined): string {
  let out = text;
  const secrets = [cfg?.sasl?.password, cfg?.tls?.key].filter((s): s is string => !!s && s.length >= 3);
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
