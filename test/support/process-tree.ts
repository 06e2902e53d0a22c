/**
 * Processes below a given one, read from /proc (Linux): the tests find the service a tool
 * started (to stop it from outside, as in the incident they reproduce) and check that nothing
 * is left running afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** The command line, arguments separated by spaces. */
  readonly args: string;
}

function processes(): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name in parentheses may itself hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      all.push({ pid: Number(name), ppid, args });
    } catch {
      // It exited while we looked: it is no longer below anything.
    }
  }
  return all;
}

/** Every living process below `pid` (children, their children, ...). */
export function descendants(pid: number): ProcessInfo[] {
  const all = processes();
  const found: ProcessInfo[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const next = all.filter((p) => parents.has(p.ppid));
    found.push(...next);
    parents = new Set(next.map((p) => p.pid));
  }
  return found;
}

/** Direct children of `pid`. */
export function children(pid: number): ProcessInfo[] {
  return processes().filter((p) => p.ppid === pid);
}

export function isRunning(pid: number): boolean {
  try {
    // A zombie still answers signal 0; its state in /proc tells it apart.
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
