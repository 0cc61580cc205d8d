/**
 * Turns client errors into the one-line errors of docs/design.md: the thing named in backticks, the reason in
 * parentheses, a hint after the dash. Secrets of the configuration are scrubbed from every message.
 */
import { KsError, RuntimeError } from '../pipeline/errors.js';
import { scrubSecrets, type KafkaConfig } from './config.js';
import { CodecUnavailable } from './protocol/compression.js';
import { BatchError, CorruptData } from './protocol/records.js';

export const START_HINT = 'start one with `npm run kafka:up` or set KSTREAM_BROKERS';

/** The fix for unreachable brokers depends on where their addresses came from: a profile is fixed in the profile. */
function startHint(from: string | undefined): string {
  if (from?.startsWith('profile ')) return `they come from ${from}: check it with \`kstream profile show\`, or pass --brokers`;
  return START_HINT;
}

/** A topic that does not exist; commands add the hint that fits them (produce: --create). */
export class MissingTopic extends RuntimeError {
  constructor(readonly topic: string, hint = 'list topics with `kstream topics`') {
    super(`topic \`${topic}\` does not exist`, hint);
  }
}

const CONNECT_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|DEPTH_ZERO|ERR_OSSL/;

interface ErrLike {
  name?: string;
  message?: string;
  code?: string | number;
  type?: string;
  broker?: string;
  cause?: unknown;
  originalError?: unknown;
}

/** One group's failure in kafkajs's DeleteGroups error. */
interface GroupFailure {
  groupId: string;
  error?: ErrLike;
}

/** The innermost error of a kafkajs retry chain: the one that says what really happened. */
function rootCause(e: unknown): ErrLike {
  let cur = e as ErrLike;
  for (let i = 0; i < 10 && cur; i++) {
    const next = (cur.cause ?? cur.originalError) as ErrLike | undefined;
    if (!next || next === cur) break;
    cur = next;
  }
  return cur ?? {};
}

function isConnectionError(e: ErrLike): boolean {
  return e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError' || e.name === 'KafkaJSNoBrokerAvailableError'
    || (e.name === 'KafkaJSNonRetriableError' && /Failed to connect/.test(e.message ?? ''));
}

export interface ErrorContext {
  cfg?: KafkaConfig;
  /** The topic the operation was about, for UNKNOWN_TOPIC_OR_PARTITION. */
  topic?: string;
  /** The group the operation was about. */
  group?: string;
  missingTopicHint?: string;
}

/** A KsError for any failure of a Kafka operation. */
export function kafkaError(err: unknown, ctx: ErrorContext = {}): KsError {
  if (err instanceof KsError) return err;
  const brokers = ctx.cfg ? ctx.cfg.brokers.join(',') : 'brokers';
  const scrub = (s: string) => scrubSecrets(s, ctx.cfg);
  if (err instanceof BatchError) return new RuntimeError(scrub(err.message), batchHint(err));
  if (err instanceof CodecUnavailable) {
    return new RuntimeError(`cannot compress with ${err.codec}: ${scrub(err.message)}`, 'reinstall kstream with npm, which installs the library for this platform, or use another --compression');
  }
  const e = rootCause(err);
  const top = err as ErrLike;
  const msg = scrub(String(e.message ?? top.message ?? err));

  if (e.name === 'KafkaJSSASLAuthenticationError' || /SASL .* authentication failed/i.test(msg)) {
    const why = msg.replace(/^SASL .*? authentication failed:\s*/i, '').replace(/\s+$/, '');
    return new RuntimeError(
      `authentication failed at \`${brokers}\` (${why || 'rejected'})`,
      'check --sasl-mechanism, --sasl-username and the password in KSTREAM_SASL_PASSWORD or --sasl-password-file',
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && TLS_CODES.test(code) || /certificate|SSL routines|wrong version number/i.test(msg)) {
    const tls = ctx.cfg?.tls;
    // A listener that requires client certificates ends the handshake with a "certificate required" alert (or a
    // reset): without --tls-cert that, not the CA, is what to fix.
    const noClientCert = tls !== undefined && tls.cert === undefined;
    const hint = !tls
      ? 'the listener may not speak TLS; drop --tls, or check the port'
      : noClientCert && /certificate required|ALERT_CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|bad certificate|alert number 116|ECONNRESET|socket hang up/i.test(`${code ?? ''} ${msg}`)
        ? 'the listener asks for a client certificate: pass --tls-cert <file> and --tls-key <file> (mutual TLS)'
        : `pass --tls-ca <file> with the CA that signed the broker certificates (or --tls-insecure to test), and check the port is a TLS listener${noClientCert ? '; a listener that requires client certificates also needs --tls-cert and --tls-key' : ''}`;
    return new RuntimeError(`TLS handshake with \`${brokers}\` failed (${code ?? msg})`, hint);
  }
  if (isConnectionError(e) || isConnectionError(top) || (code && CONNECT_REASONS[code])) {
    const reason = code ? CONNECT_REASONS[code] ?? code : /Connection timeout/i.test(msg) ? 'timed out' : /Closed connection/i.test(msg) ? 'connection closed by the broker' : msg.replace(/^Connection error:\s*/, '');
    // The broker is there but hung up: most often a TLS listener spoken to in plain text, or the other way round.
    if (reason === 'connection closed by the broker' || reason === 'connection reset') {
      // what to drop for a plaintext listener: the flags, or the profile that turned TLS on
      const dropTls = ctx.cfg?.tlsFrom?.startsWith('profile ') ? `the TLS settings (they come from ${ctx.cfg.tlsFrom})` : '--tls/--tls-*';
      const hint = ctx.cfg?.tls
        ? ctx.cfg.tls.cert === undefined
          ? `a listener that requires client certificates hangs up without one: pass --tls-cert <file> and --tls-key <file>; for a plaintext listener drop ${dropTls}`
          : `is the port a TLS listener? for a plaintext one drop ${dropTls}`
        : 'is the port a TLS listener? add --tls (and --tls-ca <file>); SASL also needs --sasl-mechanism and --sasl-username';
      return new RuntimeError(`cannot talk to brokers \`${brokers}\` (${reason})`, hint);
    }
    return new RuntimeError(`cannot reach brokers \`${brokers}\` (${reason})`, startHint(ctx.cfg?.brokersFrom));
  }
  if (e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSTimeout' || e.name === 'KafkaJSLockTimeout') {
    return new RuntimeError(`brokers \`${brokers}\` did not answer in time (${msg})`, 'check the broker is healthy; rerun with --verbose for details');
  }
  // kafkajs's DeleteGroups failure carries each group's own error; its message ("Error in DeleteGroups") does not
  const groups = ((e as { groups?: GroupFailure[] }).groups ?? (top as { groups?: GroupFailure[] }).groups)?.filter((g) => g.error);
  if (groups?.length) {
    const { groupId, error } = groups[0];
    if (error!.type === 'GROUP_ID_NOT_FOUND') return new RuntimeError(`group \`${groupId}\` does not exist`, 'see the groups there are with `kstream groups list`');
    if (error!.type === 'NON_EMPTY_GROUP') return new RuntimeError(`group \`${groupId}\` has members`, 'stop its consumers first: a group is deleted only when it is empty');
    return kafkaError(error, { ...ctx, group: groupId });
  }
  const type = e.type ?? top.type;
  // a listener without SASL answers the SASL handshake so; the broker's text says nothing of the port
  if ((type === 'ILLEGAL_SASL_STATE' || type === 'UNSUPPORTED_SASL_MECHANISM') && ctx.cfg?.sasl) {
    const why = type === 'ILLEGAL_SASL_STATE' ? 'the listener does not take SASL' : `the listener does not offer ${ctx.cfg.sasl.mechanism}`;
    return new RuntimeError(`SASL ${ctx.cfg.sasl.mechanism} at \`${brokers}\` refused: ${why} (${type})`, type === 'ILLEGAL_SASL_STATE'
      ? 'use the port of a SASL listener, or drop --sasl-mechanism/--sasl-username for a plaintext one'
      : 'pass the --sasl-mechanism the listener is set up for (plain, scram-sha-256 or scram-sha-512)');
  }
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' && ctx.topic) return new MissingTopic(ctx.topic, ctx.missingTopicHint);
  if (type === 'TOPIC_AUTHORIZATION_FAILED') {
    return new RuntimeError(`not allowed to use topic${ctx.topic ? ` \`${ctx.topic}\`` : 's'}`, 'ask for ACLs on the topic for this user');
  }
  if (type === 'GROUP_AUTHORIZATION_FAILED') {
    return new RuntimeError(`not allowed to use group${ctx.group ? ` \`${ctx.group}\`` : ''}`, 'ask for ACLs on the group for this user');
  }
  if (type) return new RuntimeError(`${ctx.topic ? `\`${ctx.topic}\`: ` : ''}${msg} (${type})`, 'rerun with --verbose for details');
  return new RuntimeError(`kafka: ${msg}`, 'rerun with --verbose for details');
}

/** What to do about a record batch kstream cannot read. */
function batchHint(err: BatchError): string {
  const skip = err.skipOffset ? `; to read on after it: \`--offset ${err.skipOffset}\`` : '';
  if (err instanceof CorruptData) return `the batch on the broker is damaged, or framed in a way Kafka clients do not write${skip}`;
  if (err.hint) return err.hint;
  return `read it with the client that wrote it${skip}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Outages: a broker restarting or unreachable mid-run

/** How long a run keeps reconnecting to brokers it lost before it gives up with one line. */
export const RECONNECT_FOR_MS = Number(process.env.KSTREAM_RECONNECT_MS) || 120_000;

const TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded', 'KafkaJSGroupCoordinatorNotFound', 'KafkaJSLockTimeout', 'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded', 'KafkaJSTimeout',
]);

/** True for failures a reconnect or a retry cures: connections, timeouts, leaders and coordinators moving. */
export function isTransient(err: unknown): boolean {
  if (err instanceof KsError) return false;
  const e = err as ErrLike & { retriable?: boolean };
  if (!e) return false;
  if (TRANSIENT_NAMES.has(e.name ?? '')) return true;
  const root = rootCause(err) as ErrLike & { retriable?: boolean };
  if (TRANSIENT_NAMES.has(root.name ?? '') || (typeof root.code === 'string' && CONNECT_REASONS[root.code])) return true;
  // protocol errors kafkajs marks retriable (NOT_LEADER, coordinator loading or moved, request timed out)
  return (e.name === 'KafkaJSProtocolError' && e.retriable === true) || (root.name === 'KafkaJSProtocolError' && root.retriable === true);
}

/**
 * Tracks one client's lost connection: the first failure prints one line (unless --quiet), recovery another; a
 * failure that has lasted RECONNECT_FOR_MS is thrown as the one-line error of `kafkaError`.
 */
export class Outage {
  private since = 0;
  private last: unknown;
  /** Outages ended by a restored connection (--metrics: kstream_reconnects_total). */
  reconnects = 0;

  constructor(private readonly cfg: KafkaConfig) {}

  get down(): boolean {
    return this.since > 0;
  }

  /** While the brokers are unreachable: what the last try failed with, in words (the gateway's /readyz). */
  get reason(): string | undefined {
    return this.since ? kafkaError(this.last, { cfg: this.cfg }).message : undefined;
  }

  /** A transient failure: returns how long to wait before the next try, or throws when it has lasted too long. */
  failed(e: unknown, attempt = 0): number {
    const now = Date.now();
    this.last = e;
    if (!this.since) {
      this.since = now;
      const err = kafkaError(e, { cfg: this.cfg });
      this.cfg.notice?.(`kstream: ${err.message.replace(/^kafka: /, '')}; reconnecting for up to ${Math.round(RECONNECT_FOR_MS / 1000)}s`);
    } else if (now - this.since > RECONNECT_FOR_MS) {
      const err = kafkaError(e, { cfg: this.cfg });
      throw new RuntimeError(`${err.message}, gave up after ${Math.round((now - this.since) / 1000)}s of reconnecting`, err.hint);
    }
    return Math.min(1000, 100 * 2 ** Math.min(attempt, 4));
  }

  ok(): void {
    if (!this.since) return;
    const secs = ((Date.now() - this.since) / 1000).toFixed(1);
    this.since = 0;
    this.reconnects++;
    this.cfg.notice?.(`kstream: reconnected to \`${this.cfg.brokers.join(',')}\` after ${secs}s`);
  }
}
