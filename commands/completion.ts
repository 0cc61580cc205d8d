import process from 'node:process';
import { performance } from 'node:perf_hooks';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import { openKafka } from '../src/kafka/client/open.js';
import { optionsOf } from '../src/pipeline/assemble.js';
import { bashScript, completionModel, fishScript, zshScript } from '../src/cli/completion.js';

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript };
const SHELLS = Object.keys(SCRIPTS) as (keyof typeof SCRIPTS)[];

/**
 * How long a name lookup may take, counted from the start of the process: a TAB that waits longer than this feels
 * broken, and the shell waits for the lookup before it shows anything.
 */
const LOOKUP_BUDGET_MS = 1000;

/**
 * `--list topics|groups`: the names, one a line, for the completion scripts. Never an error and never a wait past
 * the budget: what a shell shows at TAB is the names or nothing.
 */
async function listNames(what: 'topics' | 'groups', opts: Opts): Promise<number> {
  const timer = setTimeout(() => process.exit(1), Math.max(200, LOOKUP_BUDGET_MS - performance.now()));
  try {
    // quiet: a retried connection says so on stderr, which the scripts drop, but nothing else should read it either
    const client = await openKafka(connectionConfig({ ...opts, quiet: true }));
    const names = what === 'topics'
      ? (await client.topics()).map((t) => t.topic).filter((t) => !t.startsWith('__'))
      : (await client.listGroups()).map((g) => g.groupId);
    process.stdout.write(names.map((n) => `${n}\n`).join(''));
    // the connection is not closed: the process exits now, and a close handshake would only add to the wait
    return 0;
  } catch {
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

const completion: CommandSpec = {
  name: 'completion',
  args: '[shell]',
  summary: 'Print the shell completion script for bash, zsh or fish: commands, flags, values, files, topic and group names',
  examples: [
    'kstream completion bash > ~/.local/share/bash-completion/completions/kstream',
    'source <(kstream completion bash)',
    'kstream completion zsh > "${fpath[1]}/_kstream"',
    'kstream completion fish > ~/.config/fish/completions/kstream.fish',
    'kstream completion --list topics --brokers 127.0.0.1:9092',
  ],
  notes: [
    'bash: add `source <(kstream completion bash)` to ~/.bashrc, or (with the bash-completion package) write the script to ~/.local/share/bash-completion/completions/kstream, loaded at the first TAB after `kstream`.',
    'zsh: add `source <(kstream completion zsh)` to ~/.zshrc after `autoload -U compinit && compinit`, or write the script as `_kstream` into a directory of $fpath before compinit runs.',
    'fish: write the script to ~/.config/fish/completions/kstream.fish.',
    'Topic and group names come from the brokers at TAB time, with the connection options already on the line (--brokers, else KSTREAM_BROKERS …); a lookup that takes over a second shows nothing. Generate the script again after an upgrade.',
  ],
  actions: SHELLS,
  options: [
    { flags: '--list <what>', kind: 'enum', choices: ['topics', 'groups'], description: 'What the scripts run at TAB: the topic or group names, one a line (nothing after about 1 s or on an error)' },
    ...CONNECTION_OPTIONS,
  ],
  async run(args, opts, ctx) {
    if (opts.list) return listNames(opts.list, opts);
    if (args.length === 0) throw new UsageError('`completion` needs a shell', `use ${SHELLS.join(', ')}: source <(kstream completion bash)`);
    const shell = args[0].toLowerCase() as keyof typeof SCRIPTS;
    if (!SHELLS.includes(shell)) {
      throw new UsageError(`unknown shell \`${args[0]}\``, `use ${SHELLS.join(', ')}, e.g. source <(kstream completion bash)`);
    }
    if (args.length > 1) throw new UsageError(`unexpected \`${args[1]}\``, `kstream completion ${shell}`);
    process.stdout.write(SCRIPTS[shell](completionModel(await ctx.commands.all(), optionsOf, CONNECTION_OPTIONS)));
    return 0;
  },
};

export default completion;
