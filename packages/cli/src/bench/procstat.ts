// CPU time and memory of the stack's processes from /proc (Linux): per service with its
// descendants, plus the shared servers every run uses (Postgres, Redis, NATS).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, normally 100). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      clockTicks = NaN;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may itself hold spaces or parentheses
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    // f[0] is field 3 (state): field k is f[k - 3]
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { pid, ppid: Number(f[1]), comm, ticks };
  } catch {
    return undefined; // gone
  }
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** A named group of processes: a service (its pid and descendants) or a shared server. */
export interface ProcessGroup {
  readonly name: string;
  readonly kind: 'service' | 'server';
  /** The pids the group has now. */
  pids(all: readonly Stat[]): number[];
}

/** A service: the process and all of its descendants (a wrapper's children count). */
export function serviceGroup(name: string, pid: () => number | undefined): ProcessGroup {
  return {
    name,
    kind: 'service',
    pids: (all) => {
      const root = pid();
      if (root === undefined) return [];
      const children = new Map<number, number[]>();
      for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
      const found: number[] = [];
      const queue = [root];
      while (queue.length > 0) {
        const p = queue.pop()!;
        found.push(p);
        queue.push(...(children.get(p) ?? []));
      }
      return found;
    },
  };
}

/**
 * A shared server found by its command name in /proc/<pid>/comm, all of its processes summed
 * (Postgres has one per connection). When several instances run (another tool's own NATS), only
 * those whose command line names `port` count, if any does.
 */
export function serverGroup(name: string, comm: string, port?: number): ProcessGroup {
  return {
    name,
    kind: 'server',
    pids: (all) => {
      const matching = all.filter((s) => s.comm === comm);
      if (port === undefined || matching.length <= 1) return matching.map((s) => s.pid);
      // the instance's own processes: those listening on `port` and their descendants
      const roots = matching.filter((s) => new RegExp(`\\b${port}\\b`).test(cmdline(s.pid)));
      if (roots.length === 0) return matching.map((s) => s.pid);
      const rootPids = new Set(roots.map((s) => s.pid));
      return matching.filter((s) => rootPids.has(s.pid) || rootPids.has(s.ppid)).map((s) => s.pid);
    },
  };
}

export interface CpuSample {
  readonly at: number;
  /** Group name → pid → ticks. */
  readonly groups: Map<string, Map<number, number>>;
}

export function sampleCpu(groups: readonly ProcessGroup[]): CpuSample {
  const all = allStats();
  const byPid = new Map(all.map((s) => [s.pid, s]));
  const sample = new Map<string, Map<number, number>>();
  for (const group of groups) {
    const ticks = new Map<number, number>();
    for (const pid of group.pids(all)) {
      const stat = byPid.get(pid);
      if (stat) ticks.set(pid, stat.ticks);
    }
    sample.set(group.name, ticks);
  }
  return { at: performance.now(), groups: sample };
}

export interface CpuUsage {
  readonly name: string;
  readonly kind: 'service' | 'server';
  /** CPU time in the window, ms. */
  readonly cpuMs: number;
  /** Of one core over the window, %. */
  readonly cpuPercent: number;
  readonly processes: number;
}

/**
 * CPU per group between two samples. Ticks include each process's reaped children (cutime,
 * cstime): a Postgres backend that ends inside the window moves its time into the postmaster's
 * and is still counted once; one born inside the window counts from zero.
 */
export function cpuBetween(
  groups: readonly ProcessGroup[],
  start: CpuSample,
  end: CpuSample,
): CpuUsage[] {
  const hz = clkTck();
  const windowMs = end.at - start.at;
  return groups.map((group) => {
    const before = start.groups.get(group.name) ?? new Map<number, number>();
    const after = end.groups.get(group.name) ?? new Map<number, number>();
    let ticks = 0;
    for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
    for (const [pid, t] of before) if (!after.has(pid)) ticks -= t;
    const cpuMs = (Math.max(0, ticks) * 1000) / hz;
    return {
      name: group.name,
      kind: group.kind,
      cpuMs,
      cpuPercent: windowMs > 0 ? (cpuMs / windowMs) * 100 : 0,
      processes: after.size,
    };
  });
}

function statusKb(pid: number, field: string): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory of one process, KiB. */
export function rssKb(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : statusKb(pid, 'VmRSS');
}

/** Proportional memory (shared pages split between their users), KiB; RSS when unreadable. */
function pssKb(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not readable (another user's process, no smaps_rollup)
  }
  return rssKb(pid);
}

export interface MemoryUsage {
  readonly name: string;
  /** KiB: RSS of a single process; summed PSS for a group of several (Postgres shares buffers). */
  readonly kb: number | null;
  readonly processes: number;
}

export function memoryOf(groups: readonly ProcessGroup[]): MemoryUsage[] {
  const all = allStats();
  return groups.map((group) => {
    const pids = group.pids(all);
    const values = pids.map((pid) => (pids.length === 1 ? rssKb(pid) : pssKb(pid)));
    const known = values.filter((v): v is number => v !== undefined);
    return {
      name: group.name,
      kb: known.length > 0 ? known.reduce((a, b) => a + b, 0) : null,
      processes: pids.length,
    };
  });
}
