import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import type { ChalkInstance } from 'chalk';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { closest, UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, MECHANISMS, parseBrokers, resolveConnection, securityProtocol, type Field, type Resolved } from '../src/kafka/config.js';
import { chooseProfile, configPath, PROFILE_NAME, readConfig, unknownProfile, writeConfig, type ConfigFile, type Profile } from '../src/kafka/profile.js';
import { colorLevel, paint, printJson, printTable } from '../src/report/table.js';

const ACTIONS = ['list', 'show', 'use', 'set', 'delete'];

/** One line about a profile's SASL and TLS, naming files but no secret. */
function summary(p: Profile): [string, string] {
  const sasl = p.sasl ? [p.sasl.mechanism ?? 'plain', p.sasl.username ?? '(no user)'].join(' ') : '-';
  const tls = p.tls ? [p.tls.cert ? 'mutual' : 'on', p.tls.insecure ? 'insecure' : ''].filter(Boolean).join(', ') : '-';
  return [sasl, tls];
}

function list(file: string, cfg: ConfigFile | undefined, opts: Opts, c: ChalkInstance, log: (l: string) => void): number {
  const names = Object.keys(cfg?.profiles ?? {});
  if (opts.json) {
    printJson({ file, current: cfg?.current ?? null, profiles: cfg?.profiles ?? {} });
    return 0;
  }
  if (names.length === 0) {
    process.stdout.write(`no profiles${cfg ? '' : ` (\`${file}\` does not exist)`}\n`);
    if (!opts.quiet) log('kstream: add one with `kstream profile set <name> --brokers <host:port>`');
    return 0;
  }
  const rows = names.map((n) => {
    const p = cfg!.profiles[n];
    return [n === cfg!.current ? '*' : '', n, p.brokers ?? '-', ...summary(p)];
  });
  printTable(['', 'profile', 'brokers', 'sasl', 'tls'], rows, c, '');
  const env = process.env.KSTREAM_PROFILE;
  if (!opts.quiet && env && env !== cfg!.current) log(`kstream: KSTREAM_PROFILE=${env} overrides the current profile here`);
  return 0;
}

const where = (f: Field<unknown> | undefined): string => f?.from ?? '';
const fileText = (f: Field<string> | undefined): string => (f ? `${f.value}${fs.existsSync(f.value) ? '' : ' (missing)'}` : '-');

/** What a Kafka command given these options would connect with, each setting with where it came from. */
function show(r: Resolved, opts: Opts, c: ChalkInstance): number {
  const pw = r.sasl?.password.value;
  const pwText = !pw ? '-' : 'file' in pw ? `file ${fileText({ value: pw.file, from: '' })}` : `from ${pw.env}`;
  if (opts.json) {
    const out = {
      profile: r.profile ? { name: r.profile.name, by: r.profile.by, file: r.profile.file } : null,
      brokers: r.brokers,
      clientId: r.clientId,
      sasl: r.sasl ? { mechanism: r.sasl.mechanism, username: r.sasl.username, password: { ...r.sasl.password.value, from: r.sasl.password.from } } : null,
      tls: r.tls ? { from: r.tls.on, ca: r.tls.ca ?? null, cert: r.tls.cert ?? null, key: r.tls.key ?? null, insecure: r.tls.insecure } : null,
    };
    printJson(out);
    return 0;
  }
  const rows: string[][] = [
    ['profile', r.profile ? `${r.profile.name} (${r.profile.file})` : 'none', r.profile?.by ?? ''],
    ['brokers', r.brokers.value.join(','), where(r.brokers)],
    ['client id', r.clientId.value, where(r.clientId)],
  ];
  if (r.sasl) {
    rows.push(['sasl mechanism', r.sasl.mechanism.value, where(r.sasl.mechanism)], ['sasl user', r.sasl.username.value, where(r.sasl.username)], ['sasl password', pwText, where(r.sasl.password)]);
  } else rows.push(['sasl', 'off', '']);
  if (r.tls) {
    rows.push(['tls', 'on', r.tls.on], ['tls ca', r.tls.ca ? fileText(r.tls.ca) : 'system CAs', where(r.tls.ca)]);
    if (r.tls.cert) rows.push(['tls cert', fileText(r.tls.cert), where(r.tls.cert)], ['tls key', fileText(r.tls.key), where(r.tls.key)]);
    rows.push(['tls verify', r.tls.insecure.value ? 'no (insecure)' : 'yes', where(r.tls.insecure)]);
  } else rows.push(['tls', 'off', '']);
  printTable(['setting', 'value', 'from'], rows, c, '');
  return 0;
}

/** A file named on the command line, as an absolute path the profile can keep; it must exist. */
function absoluteFile(v: unknown, flag: string): string {
  const p = path.resolve(String(v));
  if (!fs.existsSync(p)) throw new UsageError(`no such file \`${v}\` for ${flag}`, 'a profile names files that exist: check the path');
  return p;
}

/** The profile's fields given as options of `profile set`, merged into what it had. */
function merged(before: Profile | undefined, opts: Opts): Profile {
  const p: Profile = JSON.parse(JSON.stringify(before ?? {}));
  const given = (k: string) => opts[k] !== undefined && opts[k] !== true;
  let changed = false;
  if (given('brokers')) {
    p.brokers = parseBrokers(String(opts.brokers)).join(',');
    changed = true;
  }
  if (given('clientId')) {
    p.clientId = String(opts.clientId);
    changed = true;
  }
  const protocol = securityProtocol(opts)?.text.toUpperCase();
  const saslFlags = ['saslMechanism', 'saslUsername', 'saslPasswordFile'].filter(given);
  if (protocol && !protocol.startsWith('SASL_') && saslFlags.length) {
    throw new UsageError(`\`-X security.protocol=${protocol}\` has no SASL, but SASL settings are given`, 'use SASL_SSL or SASL_PLAINTEXT, or leave the SASL settings out');
  }
  if (protocol && !protocol.startsWith('SASL_') && p.sasl) {
    delete p.sasl;
    changed = true;
  }
  if (saslFlags.length) {
    p.sasl = p.sasl ?? {};
    if (given('saslMechanism')) {
      const m = String(opts.saslMechanism).toLowerCase();
      if (!(MECHANISMS as string[]).includes(m)) throw new UsageError(`unknown SASL mechanism \`${opts.saslMechanism}\``, 'use plain, scram-sha-256 or scram-sha-512');
      p.sasl.mechanism = m;
    }
    if (given('saslUsername')) p.sasl.username = String(opts.saslUsername);
    if (given('saslPasswordFile')) p.sasl.passwordFile = absoluteFile(opts.saslPasswordFile, '--sasl-password-file');
    changed = true;
  }
  if (protocol?.startsWith('SASL_') && !p.sasl?.mechanism) {
    throw new UsageError(`\`-X security.protocol=${protocol}\` needs a SASL mechanism`, 'add -X sasl.mechanism=PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (or --sasl-mechanism)');
  }
  const tlsFiles: [string, 'ca' | 'cert' | 'key', string][] = [['tlsCa', 'ca', '--tls-ca'], ['tlsCert', 'cert', '--tls-cert'], ['tlsKey', 'key', '--tls-key']];
  const tlsGiven = tlsFiles.some(([k]) => given(k)) || opts.tlsInsecure === true;
  if (opts.tls === false) {
    if (tlsGiven) throw new UsageError('TLS is turned off, but TLS settings are given', 'keep one');
    if (p.tls) delete p.tls;
    changed = true;
  } else if (opts.tls === true || tlsGiven || (opts.tlsInsecure === false && p.tls)) {
    p.tls = p.tls ?? {};
    for (const [k, field, flag] of tlsFiles) if (given(k)) p.tls[field] = absoluteFile(opts[k], flag);
    if (typeof opts.tlsInsecure === 'boolean') p.tls.insecure = opts.tlsInsecure;
    changed = true;
  }
  if (p.tls && !!p.tls.cert !== !!p.tls.key) throw new UsageError('--tls-cert and --tls-key go together', 'pass both for mutual TLS, or neither');
  if (!changed) throw new UsageError('nothing to set', 'pass connection options, e.g. kstream profile set prod --brokers b1:9092 --sasl-username me');
  return p;
}

function nameArg(args: string[], action: string): string {
  const name = args[1];
  if (name === undefined) throw new UsageError(`\`profile ${action}\` needs a profile name`, `kstream profile ${action} <name>`);
  if (args.length > 2) throw new UsageError(`unexpected \`${args[2]}\``, `kstream profile ${action} <name>`);
  return name;
}

function existing(file: string, cfg: ConfigFile | undefined, name: string): ConfigFile {
  if (!cfg || !Object.hasOwn(cfg.profiles, name)) throw unknownProfile(name, file, cfg);
  return cfg;
}

const profile: CommandSpec = {
  name: 'profile',
  args: '[action] [name]',
  actions: ACTIONS,
  summary: 'Named connection profiles (brokers, client id, SASL, TLS): list, show, use, set, delete',
  examples: [
    'kstream profile set prod --brokers b1:9092,b2:9092 --sasl-mechanism scram-sha-512 --sasl-username etl --sasl-password-file ~/.kafka-pw --tls',
    'kstream profile use prod',
    'kstream profile list',
    'kstream profile show',
    'kstream topics --profile staging',
    'kstream profile delete staging',
  ],
  options: [
    { flags: '--json', description: 'Machine-readable output (list, show)' },
    ...CONNECTION_OPTIONS,
  ],
  async run(args, opts, ctx) {
    const action = args.length === 0 ? 'list' : args[0];
    if (!ACTIONS.includes(action)) {
      const near = closest(action, ACTIONS);
      throw new UsageError(`unknown profile action \`${action}\``, `${near ? `did you mean \`${near}\`? ` : ''}use ${ACTIONS.join(', ')}, e.g. kstream profile show`);
    }
    const env = process.env;
    const file = configPath(env);
    const c = paint(colorLevel(process.stdout));
    const say = (line: string) => {
      if (!opts.quiet) ctx.log(line);
    };
    if (action === 'list') {
      if (args.length > 1) throw new UsageError(`unexpected \`${args[1]}\``, 'kstream profile list');
      return list(file, readConfig(file), opts, c, ctx.log);
    }
    if (action === 'show') {
      if (args.length > 2) throw new UsageError(`unexpected \`${args[2]}\``, 'kstream profile show [name]');
      const name = args[1];
      if (name !== undefined && opts.profile !== undefined && String(opts.profile) !== name) {
        throw new UsageError(`\`profile show ${name}\` and \`--profile ${opts.profile}\` name two profiles`, 'keep one');
      }
      const chosen = chooseProfile(name ?? opts.profile, env, name !== undefined ? 'named' : '--profile');
      return show(resolveConnection(opts, env, chosen), opts, c);
    }
    const name = nameArg(args, action);
    if (opts.profile !== undefined) throw new UsageError(`\`profile ${action}\` takes the profile as its argument, not --profile`, `kstream profile ${action} ${name}`);
    const cfg = readConfig(file);
    if (action === 'use') {
      const next = existing(file, cfg, name);
      next.current = name;
      writeConfig(file, next);
      say(`kstream: current profile is \`${name}\``);
      if (env.KSTREAM_PROFILE && env.KSTREAM_PROFILE !== name) say(`kstream: KSTREAM_PROFILE=${env.KSTREAM_PROFILE} still overrides it here`);
      return 0;
    }
    if (action === 'delete') {
      const next = existing(file, cfg, name);
      delete next.profiles[name];
      const wasCurrent = next.current === name;
      if (wasCurrent) delete next.current;
      writeConfig(file, next);
      say(`kstream: deleted profile \`${name}\`${wasCurrent ? '; it was the current one: none is current now (choose one with `kstream profile use <name>`)' : ''}`);
      return 0;
    }
    // set
    if (!PROFILE_NAME.test(name)) throw new UsageError(`invalid profile name \`${name}\``, 'use letters, digits, ".", "_" and "-", starting with a letter or digit');
    if (opts.saslPassword !== undefined) throw new UsageError('passwords are not taken on the command line', 'profiles hold no secrets: use --sasl-password-file <file> (the profile keeps its path) or set KSTREAM_SASL_PASSWORD');
    const next: ConfigFile = cfg ?? { profiles: {} };
    const had = Object.hasOwn(next.profiles, name);
    next.profiles[name] = merged(had ? next.profiles[name] : undefined, opts);
    const first = next.current === undefined;
    if (first) next.current = name;
    writeConfig(file, next);
    say(`kstream: ${had ? 'updated' : 'saved'} profile \`${name}\` in \`${file}\`${first ? ' (the current profile now)' : ''}`);
    return 0;
  },
};

export default profile;
