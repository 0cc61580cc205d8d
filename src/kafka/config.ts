/**
 * Connection options shared by every Kafka command (consume, produce, topics, groups, bench): brokers, client id,
 * SASL and TLS. Secrets come only from the environment or a file, never from the command line (where `ps` and shell
 * history would show them), and never appear in messages.
 */
import fs from 'node:fs';
import process from 'node:process';
import type { OptionSpec, Opts } from '../pipeline/command.js';
import { UsageError } from '../pipeline/errors.js';
import { writeErr } from '../runtime.js';

export const DEFAULT_BROKERS = '127.0.0.1:9092';

export const CONNECTION_OPTIONS: OptionSpec[] = [
  { flags: '--brokers <list>', description: `Bootstrap brokers host:port[,host:port] (else KSTREAM_BROKERS, KAFKA_BROKERS, ${DEFAULT_BROKERS})` },
  { flags: '--client-id <id>', description: 'Client id the brokers see (default kstream)' },
  { flags: '--sasl-mechanism <m>', description: 'SASL: plain | scram-sha-256 | scram-sha-512 (else KSTREAM_SASL_MECHANISM)' },
  { flags: '--sasl-username <user>', description: 'SASL user (else KSTREAM_SASL_USERNAME)' },
  { flags: '--sasl-password-file <file>', kind: 'file', description: 'File holding the SASL password (else env KSTREAM_SASL_PASSWORD)' },
  { flags: '--sasl-password <password>', description: 'Refused: command lines show in ps and shell history — use KSTREAM_SASL_PASSWORD or --sasl-password-file' },
  { flags: '--tls', description: 'Connect with TLS (implied by the other --tls-* options)' },
  { flags: '--tls-ca <file>', kind: 'file', description: 'PEM file of the CA that signed the brokers\' certificates' },
  { flags: '--tls-cert <file>', kind: 'file', description: 'PEM client certificate (mutual TLS)' },
  { flags: '--tls-key <file>', kind: 'file', description: 'PEM key of the client certificate' },
  { flags: '--tls-insecure', description: 'Do not verify the brokers\' certificates (testing only)' },
];

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  /** Where the client's own diagnostics go under --verbose; otherwise they are dropped. */
  log?: (line: string) => void;
  /** Lines a user should see unless --quiet: a lost connection being retried, and its recovery. */
  notice?: (line: string) => void;
}

const MECHANISMS: SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

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

/** Builds the client configuration from parsed command options and the environment. */
export function connectionConfig(opts: Opts, env: NodeJS.ProcessEnv = process.env, log?: (line: string) => void): KafkaConfig {
  const brokersText = opts.brokers !== undefined && opts.brokers !== true ? String(opts.brokers) : env.KSTREAM_BROKERS || env.KAFKA_BROKERS || DEFAULT_BROKERS;
  const cfg: KafkaConfig = {
    brokers: parseBrokers(brokersText),
    clientId: opts.clientId !== undefined ? String(opts.clientId) : 'kstream',
    log,
    notice: opts.quiet ? undefined : writeErr,
  };

  const mechanismText = opts.saslMechanism ?? env.KSTREAM_SASL_MECHANISM;
  const username = opts.saslUsername ?? env.KSTREAM_SASL_USERNAME;
  if (opts.saslPassword !== undefined) {
    throw new UsageError('passwords are not taken on the command line', 'set KSTREAM_SASL_PASSWORD or use --sasl-password-file <file>');
  }
  if (mechanismText !== undefined || username !== undefined || opts.saslPasswordFile !== undefined) {
    const mechanism = String(mechanismText ?? 'plain').toLowerCase() as SaslMechanism;
    if (!MECHANISMS.includes(mechanism)) {
      throw new UsageError(`unknown SASL mechanism \`${mechanismText}\``, 'use plain, scram-sha-256 or scram-sha-512');
    }
    if (username === undefined || username === true || username === '') {
      throw new UsageError('SASL needs a user', 'pass --sasl-username <user> or set KSTREAM_SASL_USERNAME');
    }
    let password: string | undefined;
    if (opts.saslPasswordFile !== undefined) password = readSecretFile(String(opts.saslPasswordFile), 'SASL password file').replace(/\r?\n$/, '');
    else password = env.KSTREAM_SASL_PASSWORD;
    if (password === undefined) {
      throw new UsageError('SASL needs a password', 'set KSTREAM_SASL_PASSWORD or pass --sasl-password-file <file>');
    }
    cfg.sasl = { mechanism, username: String(username), password };
  }

  if (opts.tls || opts.tlsCa || opts.tlsCert || opts.tlsKey || opts.tlsInsecure) {
    if (!!opts.tlsCert !== !!opts.tlsKey) {
      throw new UsageError('--tls-cert and --tls-key go together', 'pass both for mutual TLS, or neither');
    }
    cfg.tls = {
      ca: opts.tlsCa ? readSecretFile(String(opts.tlsCa), 'CA file') : undefined,
      cert: opts.tlsCert ? readSecretFile(String(opts.tlsCert), 'certificate file') : undefined,
      key: opts.tlsKey ? readSecretFile(String(opts.tlsKey), 'key file') : undefined,
      rejectUnauthorized: !opts.tlsInsecure,
    };
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
