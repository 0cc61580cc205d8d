import type { Expr } from './expr.js';
import type { Header } from '../pipeline/record.js';

/**
 * Group keys of windows and aggregates. A key is a JSON value: one `--by` gives its value, several give an array
 * of their values (`--by r.page --by r.country` → `["/home","DE"]`), missing values are null.
 *
 * Keys are normalised to what survives a trip through NDJSON (a Date becomes its ISO string, NaN becomes null),
 * so a fused run groups exactly as a piped one. Internally a key is identified by a string: a string key by
 * itself, anything else by a marker and its JSON text, so "1" and 1 stay different groups.
 */
export function normalizeKey(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object') {
    const s = JSON.stringify(v);
    return s === undefined ? null : JSON.parse(s);
  }
  return null;
}

export function keyId(k: unknown): string {
  return typeof k === 'string' ? k : '\u0000' + JSON.stringify(k);
}

/**
 * A key as a Map key, built without a string where the key is one already: strings, numbers, booleans and null
 * are themselves (a Map keeps "1" and 1 apart); arrays and objects become a marker and their JSON text, as do
 * strings that start with the marker, so no two keys share an id.
 */
export function groupId(k: unknown): unknown {
  if (typeof k === 'string') return k.charCodeAt(0) === 0 ? '\u0000' + JSON.stringify(k) : k;
  if (typeof k === 'number' || typeof k === 'boolean' || k === null) return k;
  return '\u0000' + JSON.stringify(k);
}

/** The key as text: for ordering results ("keys compare as strings") and for Kafka keys (`key@start`). */
export function keyText(k: unknown): string {
  return typeof k === 'string' ? k : JSON.stringify(k);
}

const utf8 = new TextDecoder();

/** The Kafka record key as a group key: bytes as UTF-8 text; undefined when the record has none. */
export function recordKey(k: unknown): unknown {
  if (k === undefined || k === null) return undefined;
  if (k instanceof Uint8Array) return utf8.decode(k);
  return normalizeKey(k);
}

/** Evaluates the --by expressions on a value; throws what the expression throws. */
export function evalKey(by: Expr[], r: unknown, key: unknown, ts: number | undefined, headers: Header[] | undefined): unknown {
  if (by.length === 1) return normalizeKey(by[0].fn(r, key, ts, headers));
  const out: unknown[] = new Array(by.length);
  for (let i = 0; i < by.length; i++) out[i] = normalizeKey(by[i].fn(r, key, ts, headers));
  return out;
}
