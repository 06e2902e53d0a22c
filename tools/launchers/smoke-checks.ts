/**
 * What the launchers' smoke scripts (tools/opensearch/smoke.ts, tools/kafka/smoke.ts,
 * tools/iceberg/smoke.ts) measure and check around a started JVM: timings, resident memory, and
 * that stop() really ended the process and freed its port.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface SmokeChecks {
  /** Prints `ok` or `FAIL` (with the detail as JSON) and counts it. */
  check(name: string, ok: boolean, detail?: unknown): void;
  /** An error that cut the checks short: a failure, so that the script cannot pass. */
  fail(message: string): void;
  /** Prints the totals and sets the exit code: non-zero if anything failed. */
  finish(script: string): void;
}

/** Counts every check instead of stopping at the first, so one run shows all that is wrong. */
export function smokeChecks(): SmokeChecks {
  let passed = 0;
  let failed = 0;
  return {
    check(name, ok, detail) {
      if (ok) {
        passed += 1;
        console.log(`  ok   ${name}`);
      } else {
        failed += 1;
        console.log(`  FAIL ${name}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
      }
    },
    fail(message) {
      failed += 1;
      console.log(`  FAIL ${message}`);
    },
    finish(script) {
      console.log(`${script} smoke: ${passed} passed, ${failed} failed`);
      process.exitCode = failed === 0 ? 0 : 1;
    },
  };
}

/** Milliseconds since a `process.hrtime.bigint()` reading. */
export function msSince(since: bigint): number {
  return Number((process.hrtime.bigint() - since) / 1_000_000n);
}

/** The process's resident memory in MiB, as the kernel counts it. */
export function rssMiB(pid: number): number | undefined {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  const kib = line === undefined ? Number.NaN : Number(line.replace(/\D+/g, ''));
  return Number.isFinite(kib) ? Math.round(kib / 1024) : undefined;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
