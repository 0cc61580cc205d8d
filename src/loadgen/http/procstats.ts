/**
 * The gateway's CPU and memory, as `bench --http` reports them: read from /proc/<pid> when the gateway runs on
 * this machine (`--gateway-pid`), else scraped from the gateway's own /metrics (process_cpu_seconds_total and
 * process_resident_memory_bytes, which `kstream serve` exposes from src/report/run-metrics.ts processMetrics).
 * The parsers are pure; the reading is done by the bench.
 */

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident memory, bytes. */
  rssBytes: number;
  /** Peak resident memory (VmHWM), bytes, where known. */
  peakRssBytes?: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux port kstream runs on. */
export const CLOCK_TICKS = 100;

/**
 * utime + stime of a /proc/<pid>/stat line, in seconds. The command name (field 2) is in parentheses and may
 * hold spaces or parentheses itself, so the fields are counted from the last `)`: utime and stime are fields 14
 * and 15 of the line, the 12th and 13th after the name.
 */
export function cpuOfStat(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  const f = stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/<pid>/stat line');
  return (utime + stime) / CLOCK_TICKS;
}

/** VmRSS and VmHWM of a /proc/<pid>/status text, in bytes. */
export function memOfStatus(status: string): { rssBytes: number; peakRssBytes?: number } {
  const kb = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s*(\\d+)\\s*kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const rss = kb('VmRSS');
  if (rss === undefined) throw new Error('no VmRSS in /proc/<pid>/status');
  const peak = kb('VmHWM');
  return peak === undefined ? { rssBytes: rss } : { rssBytes: rss, peakRssBytes: peak };
}

/**
 * process_cpu_seconds_total and process_resident_memory_bytes of a Prometheus text exposition (unlabelled
 * samples); undefined when either is missing (a runtime that lacks process.cpuUsage).
 */
export function procOfMetrics(text: string): ProcSample | undefined {
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^${name}(?:\\{\\})?\\s+(\\S+)`, 'm').exec(text);
    const v = m ? Number(m[1]) : NaN;
    return Number.isFinite(v) ? v : undefined;
  };
  const cpu = value('process_cpu_seconds_total');
  const rss = value('process_resident_memory_bytes');
  return cpu === undefined || rss === undefined ? undefined : { cpuSeconds: cpu, rssBytes: rss };
}
