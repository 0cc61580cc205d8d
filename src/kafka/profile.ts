/**
 * Named connection profiles in one JSON file (`${XDG_CONFIG_HOME:-~/.config}/kstream/config.json`, or
 * KSTREAM_CONFIG):
 *
 *   { "current": "prod",
 *     "profiles": { "prod": { "brokers": "b1:9092,b2:9092", "clientId": "etl",
 *                             "sasl": { "mechanism": "scram-sha-512", "username": "etl", "passwordFile": "~/.kafka-pw" },
 *                             "tls": { "ca": "ca.pem", "cert": "me.pem", "key": "me.key", "insecure": false } } } }
 *
 * JSON, because Node reads and writes it without a dependency and its errors carry a position. A profile holds no
 * secret: a password field is refused (the password comes from a file it names, or KSTREAM_SASL_PASSWORD). Unknown
 * fields are refused too, so a typo does not silently leave a setting out. Relative paths are relative to the
 * file's folder; `~/` is the home folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { closest, UsageError } from '../pipeline/errors.js';

export interface Profile {
  brokers?: string;
  clientId?: string;
  sasl?: { mechanism?: string; username?: string; passwordFile?: string };
  tls?: { ca?: string; cert?: string; key?: string; insecure?: boolean };
}

export interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
}

/** A profile chosen for a run: its name, what chose it, and the file it is in. */
export interface Chosen {
  name: string;
  /** `named`: by `profile show <name>`. */
  by: '--profile' | 'KSTREAM_PROFILE' | 'current' | 'named';
  file: string;
  profile: Profile;
}

const FIELDS: Record<string, readonly string[]> = {
  '': ['brokers', 'clientId', 'sasl', 'tls'],
  sasl: ['mechanism', 'username', 'passwordFile'],
  tls: ['ca', 'cert', 'key', 'insecure'],
};
export const PROFILE_NAME = /^[A-Za-z0-9][\w.-]*$/;

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

/** Where the profiles are: KSTREAM_CONFIG, else the XDG config folder (an absolute XDG_CONFIG_HOME only, as XDG says). */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.KSTREAM_CONFIG) return path.resolve(env.KSTREAM_CONFIG);
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home(env), '.config');
  return path.join(xdg, 'kstream', 'config.json');
}

/** A path written in the profile file, as the file system knows it. */
export function profilePath(file: string, p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return path.join(home(env), p.slice(1));
  return path.resolve(path.dirname(file), p);
}

/** Line and column of a JSON.parse error, from the position every runtime's message names in some form. */
function jsonError(text: string, e: Error): string {
  const msg = e.message.replace(/\s*\(line \d+ column \d+\)$/, '');
  const pos = /position (\d+)/.exec(msg);
  if (!pos) return msg;
  const before = text.slice(0, Number(pos[1]));
  const line = before.split('\n').length;
  const col = Number(pos[1]) - before.lastIndexOf('\n');
  return `${msg.replace(/ in JSON at position \d+/, '')} at line ${line}, column ${col}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkProfile(file: string, name: string, p: unknown): Profile {
  const where = (field: string) => `\`profiles.${name}${field ? `.${field}` : ''}\` in \`${file}\``;
  if (!isObject(p)) throw new UsageError(`${where('')} is not an object`, 'a profile is { "brokers": "host:port", … }');
  const walk = (obj: Record<string, unknown>, at: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const field = at ? `${at}.${k}` : k;
      if (/password$/i.test(k)) {
        throw new UsageError(`${where(field)} is a password: profiles hold no secrets`, 'remove it, and name a file that holds it with "sasl": { "passwordFile": "<file>" }, or set KSTREAM_SASL_PASSWORD');
      }
      const allowed = FIELDS[at];
      if (!allowed?.includes(k)) {
        const near = allowed && closest(k, allowed);
        throw new UsageError(`unknown field ${where(field)}`, `${near ? `did you mean \`${near}\`? ` : ''}fields${at ? ` of ${at}` : ''}: ${(allowed ?? []).join(', ')}`);
      }
      if (k === 'sasl' || k === 'tls') {
        if (k === 'tls' && typeof v === 'boolean') continue;
        if (!isObject(v)) throw new UsageError(`${where(field)} is not an object`, k === 'tls' ? '"tls": true, or { "ca": "<file>", … }' : '"sasl": { "mechanism": …, "username": …, "passwordFile": … }');
        walk(v, k);
      } else if (k === 'insecure') {
        if (typeof v !== 'boolean') throw new UsageError(`${where(field)} is not true or false`, '"insecure": true');
      } else if (k === 'brokers' && Array.isArray(v) && v.every((b) => typeof b === 'string')) {
        continue;
      } else if (typeof v !== 'string' || v === '') {
        throw new UsageError(`${where(field)} is not a text`, `"${k}": "…"`);
      }
    }
  };
  walk(p, '');
  const out = { ...p } as Profile & { brokers?: string | string[]; tls?: Profile['tls'] | boolean };
  // `"brokers": ["a:9092", "b:9092"]` and `"tls": true` are accepted as written by hand: one spelling inside
  if (Array.isArray(out.brokers)) out.brokers = out.brokers.join(',');
  if (out.tls === true) out.tls = {};
  if (out.tls === false) delete out.tls;
  return out as Profile;
}

/** The profiles file, checked; undefined when there is none. */
export function readConfig(file: string): ConfigFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read profiles \`${file}\`: ${code ?? (e as Error).message}`, 'check the path and its permissions (KSTREAM_CONFIG names another file)');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`profiles \`${file}\` is not valid JSON: ${jsonError(text, e as Error)}`, 'fix the file by hand (KSTREAM_CONFIG points kstream at another one)');
  }
  if (!isObject(raw)) throw new UsageError(`profiles \`${file}\` is not a JSON object`, '{ "current": "<name>", "profiles": { "<name>": { "brokers": "host:port" } } }');
  for (const k of Object.keys(raw)) {
    if (k !== 'current' && k !== 'profiles') throw new UsageError(`unknown field \`${k}\` in \`${file}\``, 'the file holds "current" and "profiles"');
  }
  if (raw.current !== undefined && typeof raw.current !== 'string') throw new UsageError(`\`current\` in \`${file}\` is not a profile name`, '"current": "<name>"');
  if (raw.profiles !== undefined && !isObject(raw.profiles)) throw new UsageError(`\`profiles\` in \`${file}\` is not an object`, '"profiles": { "<name>": { "brokers": "host:port" } }');
  const profiles: Record<string, Profile> = {};
  for (const [name, p] of Object.entries((raw.profiles ?? {}) as Record<string, unknown>)) {
    if (!PROFILE_NAME.test(name)) throw new UsageError(`profile name \`${name}\` in \`${file}\` is not a name`, 'use letters, digits, ".", "_" and "-", starting with a letter or digit');
    profiles[name] = checkProfile(file, name, p);
  }
  return { current: raw.current as string | undefined, profiles };
}

/**
 * Writes the file whole, atomically (a temporary file beside it, then a rename), so a reader never sees half of
 * it. A new file is readable by its owner alone (0600, its folder 0700): it names credentials' files and users.
 */
export function writeConfig(at: string, cfg: ConfigFile): void {
  fs.mkdirSync(path.dirname(at), { recursive: true, mode: 0o700 });
  let mode = 0o600;
  let file = at;
  try {
    // a file linked from elsewhere (dotfiles kept in a repository) is replaced where it is, the link kept
    file = fs.realpathSync(at);
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    /* a new file */
  }
  const tmp = `${file}.${process.pid}.tmp`;
  const body: Record<string, unknown> = {};
  if (cfg.current !== undefined) body.current = cfg.current;
  body.profiles = cfg.profiles;
  try {
    fs.writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n', { mode });
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UsageError(`cannot write profiles \`${file}\`: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the folder and its permissions (KSTREAM_CONFIG names another file)');
  }
}

/** An unknown profile name: a usage error listing the names there are. */
export function unknownProfile(name: string, file: string, cfg: ConfigFile | undefined, by?: string): UsageError {
  const names = Object.keys(cfg?.profiles ?? {});
  const near = closest(name, names);
  const what = by === 'current' ? `current profile \`${name}\`` : `profile \`${name}\`${by && by !== 'named' ? ` (${by})` : ''}`;
  if (!cfg) return new UsageError(`no ${what}: \`${file}\` does not exist`, `create it with \`kstream profile set ${name} --brokers <host:port>\``);
  return new UsageError(`no ${what} in \`${file}\``, names.length ? `${near ? `did you mean \`${near}\`? ` : ''}profiles: ${names.join(', ')}` : `it has no profiles: add one with \`kstream profile set ${name} --brokers <host:port>\``);
}

/**
 * The profile a run uses: --profile (or the one `profile show <name>` names: `by`), else KSTREAM_PROFILE, else the
 * file's current one; none without a file or a choice.
 */
export function chooseProfile(flag: unknown, env: NodeJS.ProcessEnv, by: '--profile' | 'named' = '--profile'): Chosen | undefined {
  const file = configPath(env);
  const cfg = readConfig(file);
  let name: string | undefined;
  let how: Chosen['by'] = 'current';
  if (flag !== undefined) [name, how] = [String(flag), by];
  else if (env.KSTREAM_PROFILE) [name, how] = [env.KSTREAM_PROFILE, 'KSTREAM_PROFILE'];
  else name = cfg?.current;
  if (name === undefined) return undefined;
  const profile = cfg?.profiles[name];
  if (!profile || !Object.hasOwn(cfg!.profiles, name)) throw unknownProfile(name, file, cfg, how);
  return { name, by: how, file, profile };
}
