import type { Carried, Sink, Source, Stage, OnError } from './stage.js';
import type { RecordErrors } from './onerror.js';
import type { RunContext } from './run-context.js';

/**
 * One subcommand. Each file under commands/ exports one `CommandSpec` as default; src/cli.ts registers them with
 * cac for help and parsing, and the fused runner builds stages from the same specs, so a stage parses its flags
 * identically whether it runs alone (piped) or after a "+" (fused).
 *
 * A command is one of:
 *  - a stage (map, filter, window, aggregate): `stage()` — runs between stdin/stdout alone, or inside a fused run;
 *  - a source (consume, gen): `source()` — starts a fused run, or writes NDJSON to stdout alone;
 *  - a sink (produce): `sink()` — ends a fused run, or reads NDJSON from stdin alone;
 *  - a tool (bench, topics, groups): `run()` — not composable.
 * A command may offer several roles (stats is a sink that can also pass records on with --tee).
 */
/**
 * What an option's value is. Each kind is parsed once, before any command sees it (src/cli/options.ts):
 * `duration` → ms, `size` → bytes, `count`/`rate` → a number (20k = 20000), `int` → a whole number, `enum` →
 * one of `choices`, `list` → every occurrence as a string, `expr`/`file`/`string` → the text. No `<value>` in
 * the flags means a switch (`flag`).
 */
export type OptionKind = 'flag' | 'string' | 'expr' | 'file' | 'duration' | 'size' | 'count' | 'rate' | 'int' | 'enum' | 'list';

export interface OptionSpec {
  /** cac flag syntax: "--on-error <policy>", "-n, --count <n>", "--exit". */
  flags: string;
  description: string;
  /** As a user would type it ('1m', 'fail'); parsed like a typed value. */
  default?: unknown;
  /** Default: `flag` without a value in `flags`, else `string`. */
  kind?: OptionKind;
  /**
   * For `enum`: the values accepted (compared case-insensitively). Any other kind may list the values shell
   * completion offers (not checked); a placeholder at the end (`dlq=<file>`, `dlq=kafka:<topic>`) offers the text
   * before it, then file, topic or group names after it.
   */
  choices?: readonly string[];
  /** The client properties that mean this option under `-X key=value`, as librdkafka (and so kcat) names them. */
  setting?: ClientSetting;
}

/**
 * librdkafka property names for one kstream option. `-X key=value` counts as the option given on the command line
 * (src/cli/options.ts applySettings): the same precedence, the same checks.
 */
export interface ClientSetting {
  keys: readonly string[];
  /**
   * The option's value as kstream spells it (a switch: true/false) for the property's text; throws a UsageError
   * for a value that has no kstream meaning. Default: the text as it is.
   */
  value?: (text: string, key: string) => string | boolean;
  /** Keys that are named only to be refused with a reason (a password on the command line). */
  refused?: boolean;
}

export interface CommandSpec {
  name: string;
  /** cac usage after the name: "<expr>", "<topic...>", "[preset]". */
  args: string;
  summary: string;
  /** A pasteable example for --help. */
  examples: string[];
  /** The words the first argument takes (topics' and groups' actions), as shell completion offers them. */
  actions?: readonly string[];
  /** Lines of --help and the reference after the options: what the options alone cannot say (how to install). */
  notes?: string[];
  options: OptionSpec[];
  stage?(args: string[], opts: Opts, ctx: BuildContext): Stage;
  source?(args: string[], opts: Opts, ctx: BuildContext): Source;
  sink?(args: string[], opts: Opts, ctx: BuildContext): Sink;
  run?(args: string[], opts: Opts, ctx: BuildContext): Promise<number>;
  /** How stdin is read when this command is the first segment; NDJSON when absent or it returns undefined (produce --raw reads plain lines). */
  stdin?(opts: Opts, errors: RecordErrors): Source | undefined;
}

/** The subcommands, by name (commands/index.ts builds the table; src/pipeline/registry.ts says how). */
export interface Commands {
  /** The command's spec, its module loaded on first use; an unknown name is a usage error with the nearest one. */
  load(name: string): Promise<CommandSpec>;
  /** Every command in this build, in help order. */
  all(): Promise<CommandSpec[]>;
}

/** Parsed options, camelCased by cac ("--on-error" → onError). */
export type Opts = Record<string, any>;

export interface BuildContext {
  /** The command table the line was parsed with (bench --pipeline and completion parse commands themselves). */
  commands: Commands;
  /** True when this stage runs inside a fused pipeline rather than alone between stdin and stdout. */
  fused: boolean;
  /** Position of the stage in the fused run (0 = first). */
  index: number;
  onError: OnError;
  /** What the records reaching this stage carry besides their value (set from the run's source). */
  carries: Carried;
  /** What the run shares (dead letters, the Kafka layer's clients and transactions). */
  run: RunContext;
  /** The stage's --on-error policy, wired to the run's dead letters. */
  errors(stage: string): RecordErrors;
  quiet: boolean;
  verbose: boolean;
  /** Where diagnostics go; never stdout. */
  log(line: string): void;
  /** Aborted at the first Ctrl-C or SIGTERM (the entry point's signal handling): a tool ends there, with 130. */
  stop?: AbortSignal;
}
