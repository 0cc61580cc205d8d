// `kstream completion bash|zsh|fish`: the generated scripts, run in the real shells. Topic and group names come
// from a stub `kstream` here (what it was asked, with which connection options); test/it/completion.test.mjs asks
// a real broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runSync, run } from './helpers/spawn.mjs';
import { bashComplete, compWords, fakeProgram, fishComplete, zshComplete } from './helpers/completion.mjs';

const sorted = (a) => [...a].sort();

/** The commands `kstream --help` lists. */
function helpCommands() {
  const out = runSync(['--help']).stdout;
  const block = out.split('Commands:\n')[1].split('\n\n')[0];
  return block.split('\n').map((l) => l.trim().split(/\s+/)[0]);
}

/** The long flags `kstream <command> --help` lists. */
function helpFlags(command) {
  const out = runSync([command, '--help']).stdout;
  const block = out.split('Options:\n')[1].split('\n\n')[0];
  return [...block.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
}

const FUSABLE = ['aggregate', 'dedupe', 'filter', 'flatmap', 'join', 'map', 'produce', 'stats', 'window'];

test('compWords splits a line as bash does (checked against bash at a terminal): = and : are words of their own', () => {
  assert.deepEqual(compWords('kx consume --format='), ['kx', 'consume', '--format', '=']);
  assert.deepEqual(compWords('kx filter --on-error dlq=kafka:'), ['kx', 'filter', '--on-error', 'dlq', '=', 'kafka', ':']);
  assert.deepEqual(compWords("kx filter 'r.a > 1' + ma"), ['kx', 'filter', "'r.a > 1'", '+', 'ma']);
  assert.deepEqual(compWords('kx consume '), ['kx', 'consume', '']);
});

test('bash: command names, flags from the same specs as --help, enum values, a command after +', () => {
  const commands = helpCommands();
  assert.ok(commands.includes('consume') && commands.includes('completion'), commands.join(' '));
  assert.deepEqual(sorted(bashComplete('kstream ')), sorted([...commands, 'run', 'help']));
  assert.deepEqual(sorted(bashComplete('kstream co')), ['completion', 'consume']);
  assert.deepEqual(bashComplete('kstream help fi'), ['filter']);

  assert.deepEqual(bashComplete('kstream consume --fo'), ['--format']);
  assert.deepEqual(sorted(bashComplete('kstream consume t --tls-')), ['--tls-ca', '--tls-cert', '--tls-insecure', '--tls-key']);
  // every long flag of every command, exactly as its --help lists them: the two cannot drift apart
  for (const c of commands) assert.deepEqual(sorted(bashComplete(`kstream ${c} --`)), sorted(helpFlags(c)), c);

  assert.deepEqual(bashComplete('kstream consume t --format '), ['value', 'envelope', 'raw']);
  assert.deepEqual(bashComplete('kstream consume t -f e'), ['envelope']);
  // --format=r: bash replaces only what follows the =
  assert.deepEqual(bashComplete('kstream consume t --format=r'), ['raw']);
  assert.deepEqual(bashComplete('kstream consume t --format='), ['value', 'envelope', 'raw']);
  assert.deepEqual(bashComplete('kstream produce t --compression '), ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
  assert.deepEqual(bashComplete('kstream aggregate count --emit u'), ['update']);
  assert.deepEqual(bashComplete("kstream filter 'r.ok' --on-error "), ['fail', 'skip', 'dlq=', 'dlq=kafka:']);
  assert.deepEqual(bashComplete("kstream filter 'r.ok' --on-error s"), ['skip']);
  // a value is not taken for a flag: `--acks 1 ` is followed by a topic again, `--quiet` takes no value
  assert.deepEqual(bashComplete('kstream produce --quiet --acks '), ['all', '-1', '1', '0']);

  assert.deepEqual(sorted(bashComplete("kstream consume t --format raw + filter 'r.x > 1' + ")), FUSABLE);
  assert.deepEqual(bashComplete('kstream gen --count 10 + fi'), ['filter']);
  assert.deepEqual(sorted(bashComplete('kstream gen + f')), ['filter', 'flatmap']);
  // flags belong to the command of their own segment
  assert.deepEqual(bashComplete("kstream consume t + filter 'x' --for"), []);
  assert.deepEqual(bashComplete("kstream consume t + filter 'x' --on-error f"), ['fail']);
  assert.deepEqual(bashComplete('kstream consume t + produce u --ac'), ['--acks']);
  // the stream–stream join's options, after a + too
  for (const [typed, want] of [['--wi', '--within'], ['--bef', '--before'], ['--af', '--after'], ['--gr', '--grace'], ['--ou', '--outer'], ['--lat', '--late'], ['--side', '--side-time'], ['--right', '--right-on'], ['--max', '--max-idle']]) {
    assert.deepEqual(bashComplete(`kstream gen + join stream:pay ${typed}`), [want], typed);
  }
});

test('bash: actions of topics and groups, shells of completion, files after a file option', () => {
  assert.deepEqual(bashComplete('kstream topics '), ['list', 'describe', 'create', 'delete', 'alter-config', 'add-partitions']);
  assert.deepEqual(bashComplete('kstream topics a'), ['alter-config', 'add-partitions']);
  // a flag with only a short name is completed as typed (it was offered as `--X`)
  assert.ok(bashComplete('kstream consume t -').includes('-X'));
  assert.ok(!bashComplete('kstream consume t --').includes('--X'));
  assert.deepEqual(bashComplete('kstream groups d'), ['describe', 'delete']);
  assert.deepEqual(bashComplete('kstream groups r'), ['reset']);
  // profile declared no actions, so its words completed to nothing
  assert.deepEqual(bashComplete('kstream profile s'), ['show', 'set']);
  assert.deepEqual(bashComplete('kstream completion '), ['bash', 'zsh', 'fish']);
  assert.deepEqual(bashComplete('kstream completion --list '), ['topics', 'groups']);

  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-files-'));
  for (const f of ['late-a.ndjson', 'late-b.ndjson', 'other.txt']) fs.writeFileSync(path.join(d, f), '');
  fs.mkdirSync(path.join(d, 'late-dir'));
  assert.deepEqual(sorted(bashComplete(`kstream window tumbling 1m --late ${d}/late-`)), [`${d}/late-a.ndjson`, `${d}/late-b.ndjson`, `${d}/late-dir`]);
  assert.deepEqual(bashComplete(`kstream window tumbling 1m --late=${d}/o`), [`${d}/other.txt`]);
  assert.deepEqual(bashComplete(`kstream consume t --tls-ca ${d}/oth`), [`${d}/other.txt`]);
  assert.deepEqual(bashComplete(`kstream bench --plot ${d}/ot`), [`${d}/other.txt`]);
  assert.deepEqual(bashComplete(`kstream filter x --on-error dlq=${d}/oth`), [`${d}/other.txt`]);
  // bash replaces only what follows the last : of a file name too
  fs.writeFileSync(path.join(d, 'at:10.ndjson'), '');
  assert.deepEqual(bashComplete(`kstream filter x --on-error dlq=${d}/at:1`), ['10.ndjson']);
  // no files where an option takes free text
  assert.deepEqual(bashComplete(`kstream window tumbling 1m --time ${d}/oth`), []);
});

test('bash: a group name is inserted quoted, as the shell reads it back (it is anyone\'s text)', () => {
  const stub = fakeProgram(true, ['x;touch /tmp/kstream-pwned', 'my group', 'plain-1']);
  // before, COMPREPLY held the names as they were: TAB then Enter ran `touch`, and a space split one name in two
  assert.deepEqual(bashComplete('kstream groups describe ', { prog: stub.bin }), ['x\\;touch\\ /tmp/kstream-pwned', 'my\\ group', 'plain-1']);
  assert.deepEqual(bashComplete('kstream consume t --group m', { prog: stub.bin }), ['my\\ group']);
});

test('-X settings go on to the name lookups only when their key is a connection setting', () => {
  // before, every -X went on, and a consume-only key (auto.offset.reset) made the lookup refuse: no names at all
  const stub = fakeProgram(true);
  assert.deepEqual(bashComplete('kstream consume t -X auto.offset.reset=earliest -X client.id=me -Xsasl.username=u --group g-o', { prog: stub.bin }), ['g-one']);
  assert.deepEqual(stub.calls(), ['completion --list groups -X client.id=me -Xsasl.username=u']);
  const fish = fakeProgram(true);
  assert.deepEqual(fishComplete('kstream consume t -X auto.offset.reset=earliest -X client.id=me --group g-o', { env: { PATH: `${fish.dir}:${process.env.PATH}` } }), ['g-one']);
  assert.deepEqual(fish.calls(), ['completion --list groups -X client.id=me']);
});

test('bash: topic and group names are asked of the program on the line, with the line\'s connection options', () => {
  const stub = fakeProgram(true);
  const at = (line, opts) => bashComplete(line, { prog: stub.bin, ...opts });
  assert.deepEqual(at('kstream consume '), ['alpha', 'beta', 'alps']);
  assert.deepEqual(at('kstream consume al'), ['alpha', 'alps']);
  assert.deepEqual(at('kstream consume alpha b'), ['beta'], 'consume takes several topics');
  assert.deepEqual(at('kstream produce --acks 1 a'), ['alpha', 'alps']);
  assert.deepEqual(at('kstream produce t '), [], 'produce takes one topic');
  assert.deepEqual(at('kstream topics describe '), ['alpha', 'beta', 'alps']);
  assert.deepEqual(at('kstream topics delete x b'), ['beta']);
  assert.deepEqual(at('kstream topics create '), [], 'a new topic has no name to complete');
  assert.deepEqual(at('kstream groups describe '), ['g-one', 'g-two']);
  assert.deepEqual(at('kstream groups reset g-'), ['g-one', 'g-two']);
  assert.deepEqual(at('kstream groups describe g-one --topic al'), ['alpha', 'alps']);
  assert.deepEqual(at('kstream consume t --group g-t'), ['g-two']);
  assert.deepEqual(at('kstream consume t -g '), ['g-one', 'g-two']);
  assert.deepEqual(at('kstream consume t --group=g-o'), ['g-one']);
  // dlq=kafka:<topic>: bash replaces only what follows the last :
  assert.deepEqual(at("kstream filter 'r.ok' --on-error dlq=kafka:"), ['alpha', 'beta', 'alps']);
  assert.deepEqual(at("kstream filter 'r.ok' --on-error dlq=kafka:be"), ['beta']);
  assert.deepEqual(at('kstream consume t + produce '), ['alpha', 'beta', 'alps']);

  const before = stub.calls().length;
  at('kstream consume --brokers 10.0.0.1:9092 --format raw --tls --client-id=me --tls-ca ca.pem al');
  at("kstream consume x --brokers a:1 + filter 'r' + produce --quiet --sasl-username u b");
  // the cursor between words: bash gives the next word as the cursor's, the line after it still counts
  at('kstream consume  --brokers h:2', { point: 'kstream consume '.length, words: ['kstream', 'consume', '--brokers', 'h', ':', '2'], cword: 2 });
  assert.deepEqual(stub.calls().slice(before), [
    'completion --list topics --brokers 10.0.0.1:9092 --tls --client-id=me --tls-ca ca.pem',
    'completion --list topics --sasl-username u',
    'completion --list topics --brokers h:2',
  ]);
});

test('bash: a name lookup that finds nothing offers nothing, and says nothing', () => {
  const none = fakeProgram(false);
  // no broker listens on port 1
  assert.deepEqual(bashComplete('kstream consume ', { prog: none.bin, env: { KSTREAM_BROKERS: '127.0.0.1:1' } }), []);
  assert.deepEqual(bashComplete('kstream consume ', { prog: path.join(none.dir, 'no-such-program') }), []);
});

test('`completion --list` gives up silently within about a second on a broker that never answers', async () => {
  const sockets = [];
  const server = net.createServer((s) => sockets.push(s)); // accepts, never replies
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const t0 = Date.now();
    const r = await run(['completion', '--list', 'topics', '--brokers', `127.0.0.1:${server.address().port}`]);
    const ms = Date.now() - t0;
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.ok(ms < 2000, `${ms} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('completion: a missing or unknown shell is a usage error naming the shells; --help says how to install', () => {
  const none = runSync(['completion']);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /^kstream: `completion` needs a shell — use bash, zsh, fish: source <\(kstream completion bash\)\n$/);
  const bad = runSync(['completion', 'tcsh']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^kstream: unknown shell `tcsh` — use bash, zsh, fish, e\.g\. source <\(kstream completion bash\)\n$/);
  const help = runSync(['completion', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /bash: add `source <\(kstream completion bash\)` to ~\/\.bashrc/);
  assert.match(help.stdout, /zsh: add `source <\(kstream completion zsh\)` to ~\/\.zshrc after `autoload -U compinit && compinit`/);
  assert.match(help.stdout, /fish: write the script to ~\/\.config\/fish\/completions\/kstream\.fish/);
  // the scripts parse in their shells
  const bash = runSync(['completion', 'bash']);
  assert.equal(bash.code, 0);
  assert.equal(runSync(['-n'], bash.stdout, { bin: 'bash' }).code, 0);
  assert.match(bash.stdout, /^complete -F _kstream kstream$/m);
});

// npm test checks that zsh and fish are installed before it starts (scripts/test.mjs): these never skip
const needs = () => ({});

test('zsh: the same completions through compadd, files through _files', needs('zsh'), () => {
  const stub = fakeProgram(true);
  const commands = helpCommands();
  assert.equal(runSync(['-n'], runSync(['completion', 'zsh']).stdout, { bin: 'zsh' }).code, 0);
  assert.deepEqual(sorted(zshComplete('kstream ')), sorted([...commands, 'run', 'help']));
  assert.deepEqual(zshComplete('kstream consume --fo'), ['--format']);
  assert.deepEqual(zshComplete('kstream consume t --format '), ['value', 'envelope', 'raw']);
  // zsh keeps --format=r as one word: the candidates are whole words
  assert.deepEqual(zshComplete('kstream consume t --format=r'), ['--format=raw']);
  assert.deepEqual(zshComplete("kstream filter 'x' --on-error "), ['fail', 'skip', 'dlq=(no space)', 'dlq=kafka:(no space)']);
  assert.deepEqual(sorted(zshComplete("kstream consume t + filter 'x' + ")), FUSABLE);
  assert.deepEqual(zshComplete('kstream topics de'), ['describe', 'delete']);
  assert.deepEqual(zshComplete('kstream window tumbling 1m --late '), ['_files']);
  assert.deepEqual(zshComplete('kstream window tumbling 1m --late=la'), ['compset --late=', '_files']);
  assert.deepEqual(zshComplete('kstream consume --brokers h:1 a', { prog: stub.bin }), ['alpha', 'alps']);
  assert.deepEqual(zshComplete('kstream groups describe ', { prog: stub.bin }), ['g-one', 'g-two']);
  assert.deepEqual(zshComplete('kstream filter x --on-error dlq=kafka:b', { prog: stub.bin }), ['dlq=kafka:beta']);
  assert.deepEqual(stub.calls(), ['completion --list topics --brokers h:1', 'completion --list groups', 'completion --list topics']);
});

test('fish: the same completions through fish\'s own engine (complete -C)', needs('fish'), () => {
  const stub = fakeProgram(true);
  const env = { PATH: `${stub.dir}:${process.env.PATH}` };
  const commands = helpCommands();
  assert.equal(runSync(['--no-execute'], runSync(['completion', 'fish']).stdout, { bin: 'fish' }).code, 0);
  assert.deepEqual(sorted(fishComplete('kstream ', { env })), sorted([...commands, 'run', 'help']));
  assert.deepEqual(fishComplete('kstream consume --fo', { env }), ['--format']);
  assert.deepEqual(sorted(fishComplete('kstream consume t --format ', { env })), ['envelope', 'raw', 'value']);
  assert.deepEqual(fishComplete('kstream consume t --format=r', { env }), ['--format=raw']);
  assert.deepEqual(sorted(fishComplete("kstream consume t + filter 'x' + ", { env })), FUSABLE);
  assert.deepEqual(sorted(fishComplete('kstream groups ', { env })), ['delete', 'describe', 'list', 'reset']);
  assert.deepEqual(sorted(fishComplete('kstream consume --brokers h:1 a', { env })), ['alpha', 'alps']);
  assert.deepEqual(sorted(fishComplete('kstream consume t --group ', { env })), ['g-one', 'g-two']);
  assert.deepEqual(fishComplete('kstream filter x --on-error dlq=kafka:b', { env }), ['dlq=kafka:beta']);
  assert.deepEqual(fishComplete('kstream topics create ', { env }), []);
  assert.deepEqual(stub.calls(), ['completion --list topics --brokers h:1', 'completion --list groups', 'completion --list topics']);
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-files-'));
  fs.writeFileSync(path.join(d, 'late.ndjson'), '');
  assert.deepEqual(fishComplete(`kstream window tumbling 1m --late ${d}/la`, { env }), [`${d}/late.ndjson`]);
  assert.deepEqual(fishComplete(`kstream window tumbling 1m --late=${d}/la`, { env }), [`--late=${d}/late.ndjson`]);
});
