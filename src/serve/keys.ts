import { Buffer } from 'node:buffer';
import crypto, { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../pipeline/errors.js';

/**
 * The gateway's API keys (`serve --api-keys <file>`) and the stream ids they own.
 *
 * Keys are kept only as SHA-256 hashes; a presented key is hashed and compared with every stored hash in constant
 * time (no early exit), so neither the comparison nor which key matched leaks through timing. A key's name (for
 * logs and metrics) is never the key.
 *
 * A stream id carries its owner: `st_<random>.<tag>` where the tag is an HMAC of the random part under the owning
 * key's hash. Any gateway process with the same keys file can check ownership with no shared state (a stream
 * started on one process is served by all), and a client cannot forge an id for another key's stream.
 */
export interface ApiKey {
  /** As the file names it (or `key<line>`): what logs and metrics may show. */
  readonly name: string;
  readonly hash: Buffer;
}

const HASHED = /^sha256:([0-9a-fA-F]{64})$/;
const ID = /^st_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;

// crypto.hash is the one-shot digest (Node 20.12+, 21.7+): no Hash object per request; elsewhere createHash
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
export const sha256 = (text: string): Buffer => (oneShot ? oneShot('sha256', text, 'buffer') : createHash('sha256').update(text, 'utf8').digest());

/** Stream ids whose owner was checked, remembered (a key's streams are asked about at every send). */
const OWNERS_KEPT = 100_000;

export class ApiKeys {
  /** Ids whose owner is known (minted here or checked once): the HMAC is worked out once per stream, not per request. */
  private readonly owners = new Map<string, ApiKey>();

  private constructor(readonly keys: readonly ApiKey[]) {}

  private remember(id: string, key: ApiKey): void {
    if (this.owners.size >= OWNERS_KEPT) this.owners.delete(this.owners.keys().next().value as string);
    this.owners.set(id, key);
  }

  /**
   * One key per line: `[<name>] <key>` where the key is plain text or `sha256:<64 hex digits>` (its hash, e.g.
   * `printf %s "$KEY" | sha256sum`); blank lines and `#` comments are skipped.
   */
  static parse(text: string, file: string): ApiKeys {
    const keys: ApiKey[] = [];
    const names = new Set<string>();
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) return;
      const words = t.split(/\s+/);
      if (words.length > 2) throw new UsageError(`${file}:${i + 1}: a key line is \`[name] key\`, this one has ${words.length} words`, 'keys hold no spaces; put one key per line');
      const [name, key] = words.length === 2 ? words : [`key${i + 1}`, words[0]];
      if (names.has(name)) throw new UsageError(`${file}:${i + 1}: the key name \`${name}\` is used twice`, 'give each key its own name');
      const m = HASHED.exec(key);
      if (!m && key.length < 16) throw new UsageError(`${file}:${i + 1}: the key \`${name}\` is shorter than 16 characters`, 'use a long random key, e.g. `openssl rand -hex 24`');
      names.add(name);
      keys.push({ name, hash: m ? Buffer.from(m[1], 'hex') : sha256(key) });
    });
    if (keys.length === 0) throw new UsageError(`${file} holds no API key`, 'one key per line: `[name] key` or `[name] sha256:<hex>`');
    return new ApiKeys(keys);
  }

  /** The key a client presented, if it is one of ours; every stored hash is compared, whichever matches. */
  find(presented: string): ApiKey | undefined {
    const h = sha256(presented);
    let found: ApiKey | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.hash, h)) found = k;
    return found;
  }

  /** A new stream id owned by `key`. */
  mint(key: ApiKey): string {
    const nonce = randomBytes(16).toString('base64url');
    const id = `st_${nonce}.${tag(key, nonce)}`;
    this.remember(id, key);
    return id;
  }

  /** Whether `id` is a stream id at all (a malformed one is a 404, another key's a 403). */
  static wellFormed(id: string): boolean {
    return ID.test(id);
  }

  /** Whether `key` started the stream `id` (compared in constant time). */
  owns(key: ApiKey, id: string): boolean {
    const known = this.owners.get(id);
    if (known) return known === key;
    const m = ID.exec(id);
    if (!m || !timingSafeEqual(Buffer.from(tag(key, m[1])), Buffer.from(m[2]))) return false;
    this.remember(id, key);
    return true;
  }
}

function tag(key: ApiKey, nonce: string): string {
  return createHmac('sha256', key.hash).update(nonce).digest().subarray(0, 16).toString('base64url');
}
