// Primary thread (bench harness). CPU time and memory of a process tree, read from /proc (Linux only).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clockTicks = 0;

/** Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat), from `getconf CLK_TCK`. */
export function clockTicksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface StatFields {
  readonly ppid: number;
  /** utime + stime, all threads of the process, in clock ticks. */
  readonly cpuTicks: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime field 14, stime field 15.
  return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** `pid` and every descendant process alive now (nginx master + worker, a shell's children). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const out: number[] = [];
  const queue = [pid];
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i]!;
    out.push(p);
    for (const c of children.get(p) ?? []) queue.push(c);
  }
  return out;
}

/** Summed utime+stime (seconds) of the given processes; a process that has gone counts as zero. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (let i = 0; i < pids.length; i++) ticks += readStat(pids[i]!)?.cpuTicks ?? 0;
  return ticks / clockTicksPerSecond();
}

/** VmRSS of one process in KiB (0 if it has gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+([0-9]+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Summed VmRSS of the given processes in KiB. */
export function treeRssKiB(pids: readonly number[]): number {
  let total = 0;
  for (const p of pids) total += rssKiB(p);
  return total;
}

/**
 * The open-files limit the harness's children get: the launch script raises the soft limit to 65536 or to the hard
 * limit when that is lower (containers often cap it), so proxy configs are sized to this.
 */
export function childFdLimit(): number {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m !== null) return m[1] === 'unlimited' ? 65536 : Math.min(65536, Number(m[1]));
  } catch {
    // not Linux
  }
  return 1024;
}
