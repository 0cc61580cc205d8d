import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandSpec } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { colorLevel, paint } from '../src/report/color.js';
import { rowOf, scrapeTarget, targetOf, topTable, type Snapshot, type Target, type TopRow } from '../src/report/top.js';
import { formatDuration } from '../src/time/duration.js';
import { now, writeErr } from '../src/runtime.js';

const FORMS = "use host:port, :port (127.0.0.1) or http://host:port/metrics (a job's --metrics address)";

/** How long a scrape may take before its target shows as down: a second, or the interval when longer, at most 5 s. */
const timeoutFor = (intervalMs: number): number => Math.min(Math.max(intervalMs, 1000), 5000);

// ANSI: cursor home, clear to the end of the line / of the screen, clear the screen, hide and show the cursor
const HOME = '\x1b[H';
const EOL = '\x1b[K';
const EOS = '\x1b[J';
const CLEAR = '\x1b[2J';
const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

const top: CommandSpec = {
  name: 'top',
  args: '[target...]',
  summary: 'A live view of running jobs (started with --metrics): records/s, lag, end-to-end latency, errors, CPU and memory',
  examples: [
    'kstream top :9464',
    'kstream top 10.0.0.5:9464 10.0.0.6:9464 --interval 5s',
    'kstream top :9464 --once',
    'kstream top http://127.0.0.1:9464/metrics --json --count 10',
  ],
  notes: [
    'A target is the address a job serves its metrics at (`--metrics <host:port>`); several jobs, several targets, one row each.',
    'Rates (records in/out per second), CPU and latency are over the interval between two scrapes: the first scrape shows – for them; totals, lag, errors, dropped records and memory are as of the latest scrape.',
    'Lag is the sum of kstream_consumer_lag_records over the partitions (red with ↑ while it grows), `lag s` the largest kstream_consumer_lag_seconds.',
    'p50/p99 are estimated from the buckets of kstream_end_to_end_latency_seconds (one sample per written batch, for records with a timestamp), interpolated inside a bucket: as precise as its buckets.',
    'A target that does not answer (within 1s, or the interval if longer, at most 5s) shows as down with the reason, and comes back when it answers.',
    'On a terminal the view redraws in place until Ctrl-C (exit 130); otherwise, or with --once or --json, it prints one table (or one JSON line per target) after two scrapes one interval apart, or --count of them. It exits 1 when every target is down at the end.',
  ],
  options: [
    { flags: '--interval <dur>', kind: 'duration', default: '2s', description: 'Time between scrapes (rates are over it)' },
    { flags: '--once', description: 'Print one table (after two scrapes, so rates exist) and exit, even on a terminal' },
    { flags: '--count <n>', kind: 'int', description: 'Stop after n refreshes (tables with rates)' },
    { flags: '--json', description: 'One JSON object per target and refresh (NDJSON; numbers, null where there is none yet) instead of the table' },
  ],
  async run(args, opts, ctx) {
    if (args.length === 0) throw new UsageError('`top` needs a target: the address of a job started with --metrics', `${FORMS}, e.g. kstream top :9464`);
    const targets: Target[] = args.map((a) => {
      const t = targetOf(a);
      if (!t) throw new UsageError(`invalid target \`${a}\``, FORMS);
      return t;
    });
    const interval: number = opts.interval;
    if (!(interval > 0)) throw new UsageError(`invalid --interval \`${formatDuration(interval)}\``, 'use a period such as 2s or 500ms');
    if (opts.count === 0) throw new UsageError('invalid --count `0`', 'use 1 or more refreshes');
    const json = !!opts.json;
    const live = !json && !opts.once && !!process.stdout.isTTY;
    const refreshes: number = opts.once ? 1 : (opts.count ?? (live ? Infinity : 1));
    const c = paint(colorLevel(process.stdout));
    const timeoutMs = timeoutFor(interval);

    // Ctrl-C (or SIGTERM: ctx.stop) ends the view at once, as it ends other commands: exit 130
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    ctx.stop?.addEventListener('abort', onSignal, { once: true });
    // a reader that went away (`kstream top … --json | head -1`) ends the view, as it ends a pipeline: exit 0 (the
    // listener stays: the error of the last write may come after the loop)
    let readerGone = false;
    const onWriteError = (e: NodeJS.ErrnoException): void => {
      if (e.code !== 'EPIPE') throw e;
      readerGone = true;
      stop.abort();
    };
    process.stdout.on('error', onWriteError);
    const showCursor = (): void => void process.stdout.write(SHOW);
    if (live) {
      process.stdout.write(CLEAR + HIDE);
      process.on('exit', showCursor);
    }
    let prev: Snapshot[] | undefined;
    let rows: TopRow[] = [];
    let shown = 0;
    try {
      let due = now();
      while (shown < refreshes && !stop.signal.aborted) {
        const snaps = await Promise.all(targets.map((t) => scrapeTarget(t, timeoutMs, now, stop.signal)));
        if (stop.signal.aborted) break;
        rows = targets.map((t, i) => rowOf(t.name, t.url, snaps[i], prev?.[i]));
        const first = prev === undefined;
        prev = snaps;
        // the first scrape only starts the clock for the rates; a live view shows it (totals, – for rates) meanwhile
        if (!first) shown++;
        if (live) draw(rows, interval, c);
        else if (!first) {
          if (json) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
          else process.stdout.write((shown > 1 ? '\n' : '') + topTable(rows, c) + '\n');
        }
        if (shown >= refreshes) break;
        // the next scrape an interval after the previous one started; at once when the scrapes took longer
        due = Math.max(due + interval, now());
        await sleep(due - now(), undefined, { signal: stop.signal }).catch(() => undefined);
      }
    } finally {
      ctx.stop?.removeEventListener('abort', onSignal);
      if (live) {
        showCursor();
        process.removeListener('exit', showCursor);
      }
    }
    if (readerGone) return 0;
    if (stop.signal.aborted) return 130;
    if (rows.length && rows.every((r) => r.status === 'down')) {
      const red = paint(colorLevel(process.stderr)).red;
      for (const r of rows) writeErr(`${red('kstream:')} ${r.target} is down: ${r.reason ?? 'no answer'}`);
      return 1;
    }
    return 0;
  },
};

/** Redraws the view in place: from the top left, each line cleared to its end, then the rest of the screen. */
function draw(rows: TopRow[], interval: number, c: ReturnType<typeof paint>): void {
  const time = new Date().toISOString().slice(11, 19);
  const head = `${c.bold('kstream top')} · every ${formatDuration(interval)} · ${time} UTC · Ctrl-C quits`;
  const lines = [head, '', ...topTable(rows, c).split('\n')];
  process.stdout.write(HOME + lines.map((l) => l + EOL).join('\n') + '\n' + EOS);
}

export default top;
