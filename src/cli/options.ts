import type { CommandSpec, OptionKind, OptionSpec, Opts } from '../pipeline/command.js';
import { closest, UsageError } from '../pipeline/errors.js';
import { parseCount, parseDuration, parseSize } from '../time/duration.js';

/**
 * Typed option specs: each option declares its kind once, and its value is parsed here, once, for every command
 * alike — help, errors and the generated command reference all come from the same specs (cli/help.ts).
 */

/** A flag as typed: `-X` for a one-letter name, `--count` otherwise. */
export const dashed = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

/** An option's names without dashes ("n", "count"), its long name, and what it takes. */
export interface OptionInfo {
  spec: OptionSpec;
  names: string[];
  long: string;
  /** The key cac stores it under (camelCase of the long name, without `no-`). */
  key: string;
  kind: OptionKind;
  /** `--no-x`: a switch that is on unless given. */
  negated: boolean;
  /** The value placeholder, as in `--grace <dur>`, or ''. */
  value: string;
}

export const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function optionInfo(spec: OptionSpec): OptionInfo {
  const names = [...spec.flags.matchAll(/(?:^|[\s,])--?([A-Za-z0-9][\w-]*)/g)].map((m) => m[1]);
  const long = names.reduce((a, b) => (b.length > a.length ? b : a));
  const value = /[<[][^>\]]*[>\]]/.exec(spec.flags)?.[0] ?? '';
  const negated = long.startsWith('no-');
  const kind = spec.kind ?? (value ? 'string' : 'flag');
  return { spec, names, long, key: camel(negated ? long.slice(3) : long), kind, negated, value };
}

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

/** Parses every declared option's value by its kind (in place); a bad value is a UsageError naming the flag. */
export function typeOptions(opts: Opts, specs: readonly OptionSpec[]): Opts {
  for (const spec of specs) {
    const o = optionInfo(spec);
    let v = opts[o.key];
    if (v === undefined || o.kind === 'flag') continue;
    const flag = dashed(o.long);
    if (o.kind === 'list') {
      const items = (Array.isArray(v) ? v : [v]).map((x) => {
        if (x === true || x === '') throw missing(o);
        return String(x);
      });
      setAll(opts, o, items);
      continue;
    }
    v = last(v);
    if (v === true || v === '') throw missing(o);
    let typed: unknown;
    switch (o.kind) {
      case 'duration': typed = parseDuration(v as string, flag); break;
      case 'size': typed = parseSize(v as string, flag); break;
      case 'count': case 'rate': typed = parseCount(v as string, flag); break;
      case 'int': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || String(v).trim() === '') throw new UsageError(`invalid ${flag} \`${v}\``, 'use a whole number: 0, 1, 2, …');
        typed = n;
        break;
      }
      case 'enum': {
        const s = String(v).toLowerCase();
        const choices = spec.choices ?? [];
        if (!choices.includes(s)) {
          const near = closest(s, choices);
          throw new UsageError(`invalid ${flag} \`${v}\``, `${near ? `did you mean \`${near}\`? ` : ''}use ${choices.join(', ')}`);
        }
        typed = s;
        break;
      }
      default: typed = String(v);
    }
    setAll(opts, o, typed);
  }
  return opts;
}

function setAll(opts: Opts, o: OptionInfo, v: unknown): void {
  // cac keeps a value under every name of the option (`n` and `count`): all of them get the typed value
  for (const n of o.names) opts[camel(n)] = v;
  opts[o.key] = v;
}

function missing(o: OptionInfo): UsageError {
  return new UsageError(`\`${dashed(o.long)}\` needs a value`, `${dashed(o.long)} ${o.value || '<value>'}`);
}

/**
 * Flags on the command line that the command does not have, as typed (`--on-eror`), with the nearest one it has:
 * found before cac, which would report them camelCased and without a suggestion. Returns the keys of the options
 * typed (not defaults): a `-X` setting may stand for an option, but must not contradict one given explicitly.
 */
export function checkUnknown(argv: readonly string[], specs: readonly OptionSpec[], command: string): Set<string> {
  // every spelling a command line may use, with the key of its option ('' for --help)
  const keyOf = new Map<string, string>([['h', ''], ['help', '']]);
  const valued = new Set<string>();
  for (const s of specs) {
    const o = optionInfo(s);
    for (const n of o.names) {
      keyOf.set(n, o.key);
      if (o.value) valued.add(n);
    }
    if (o.negated) keyOf.set(o.long.slice(3), o.key);
    else if (o.kind === 'flag') keyOf.set(`no-${o.long}`, o.key);
  }
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    const m = /^(--?)([A-Za-z][\w-]*)(=.*)?$/s.exec(a);
    if (!m) continue;
    // short options cluster (-qv): each letter must be known
    const names = m[1] === '-' && m[2].length > 1 && !keyOf.has(m[2]) ? [...m[2]] : [m[2]];
    for (const n of names) {
      const key = keyOf.get(n);
      if (key !== undefined) {
        if (key) given.add(key);
        continue;
      }
      const near = closest(n, [...keyOf.keys()].filter((k) => k.length > 1));
      const typed = names.length > 1 ? `-${n}` : `${m[1]}${m[2]}`;
      throw new UsageError(`unknown option \`${typed}\` for \`${command}\``, near ? `did you mean \`--${near}\`? see \`kstream ${command} --help\`` : `see \`kstream ${command} --help\``);
    }
    if (valued.has(m[2]) && m[3] === undefined) i++;
  }
  return given;
}

/** Every option a command takes: its own, then the shared ones its roles bring. */
export type OptionsOf = (spec: CommandSpec) => OptionSpec[];

/** Every `-X` key the options answer to, with the option each stands for (refused keys included). */
export function settingsOf(specs: readonly OptionSpec[]): Map<string, OptionInfo> {
  const m = new Map<string, OptionInfo>();
  for (const s of specs) for (const k of s.setting?.keys ?? []) m.set(k, optionInfo(s));
  return m;
}

/** The keys a user may set with `-X` (refused ones left out), for messages. */
export function supportedSettings(specs: readonly OptionSpec[]): string[] {
  return specs.flatMap((s) => (s.setting && !s.setting.refused ? [...s.setting.keys] : []));
}

/** `key=value` → [key, value]; anything else is a usage error. */
export function splitSetting(item: string): [string, string] {
  const i = item.indexOf('=');
  if (i <= 0) {
    // with no `=` there is no telling key from value: text that may hold a password is not echoed
    const what = /pass|secret|token|credential/i.test(item) ? 'setting (not shown: it may hold a secret)' : `\`${item}\``;
    throw new UsageError(`invalid -X ${what}`, 'use key=value, e.g. -X bootstrap.servers=127.0.0.1:9092');
  }
  return [item.slice(0, i).trim(), item.slice(i + 1)];
}

const sameValue = (a: unknown, b: unknown): boolean => (Array.isArray(a) || Array.isArray(b) ? JSON.stringify(a) === JSON.stringify(b) : a === b);

/**
 * Applies `-X key=value` client settings (opts.X, typed as a list) onto the options they stand for, as if those had
 * been typed: the value is parsed by the option's kind, a setting that contradicts the option given explicitly (or
 * another -X for the same option) is a usage error naming both, and `opts.setBy` records which option came from
 * which setting (for messages and `profile show`). Keys the options do not answer to must have been refused before
 * (assemble.ts checkSettings, which can name the commands that do take them).
 */
export function applySettings(opts: Opts, specs: readonly OptionSpec[], given: ReadonlySet<string>): Opts {
  const items = (opts.X as string[] | undefined) ?? [];
  if (items.length === 0) return opts;
  const byKey = settingsOf(specs);
  const setBy: Record<string, string> = {};
  for (const item of items) {
    const [key, text] = splitSetting(item);
    const o = byKey.get(key)!;
    if (text === '' && !o.spec.setting!.refused) throw new UsageError(`\`-X ${key}\` needs a value`, `-X ${key}=<value>`);
    const shown = `${key}=${text}`;
    const mapped = o.spec.setting!.value ? o.spec.setting!.value(text, key) : text;
    let typed: unknown = mapped;
    if (o.kind === 'flag' && typeof mapped === 'string') {
      if (!/^(true|false|1|0)$/i.test(mapped)) throw new UsageError(`invalid -X ${shown}`, 'use true or false');
      typed = /^(true|1)$/i.test(mapped);
    } else if (o.kind !== 'flag') {
      try {
        typed = typeOptions({ [o.key]: mapped }, [o.spec])[o.key];
      } catch (e) {
        if (e instanceof UsageError) throw new UsageError(`invalid -X ${shown}`, e.hint);
        throw e;
      }
    }
    const flag = o.kind === 'flag' && !o.negated && opts[o.key] === false ? `--no-${o.long}` : `--${o.long}`;
    if (given.has(o.key)) {
      if (!sameValue(opts[o.key], typed)) throw new UsageError(`\`-X ${shown}\` and \`${flag}\` disagree`, `keep one: -X ${key} is the same setting as --${o.long}`);
      continue;
    }
    const before = setBy[o.key];
    if (before !== undefined && !sameValue(opts[o.key], typed)) throw new UsageError(`\`-X ${before}\` and \`-X ${shown}\` disagree`, `keep one: both set --${o.long}`);
    setAll(opts, o, typed);
    setBy[o.key] = shown;
  }
  opts.setBy = setBy;
  return opts;
}
