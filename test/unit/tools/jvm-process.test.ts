import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type JvmLaunch, startJvm } from '../../../tools/launchers/jvm-process';

// Node stands in for the JVM: `node fake-jvm.js -jar launcher.jar <scenario>`.
const FAKE_JVM = `
const scenario = process.argv[4];
require('node:fs').writeFileSync(require('node:path').join(__dirname, 'pid'), String(process.pid));
const hold = () => setInterval(() => {}, 1000);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
if (scenario === 'split-ready') {
  process.stdout.write('a stray line\\nREADY 81');
  setTimeout(() => process.stdout.write('81\\n'), 300);
  hold();
} else if (scenario === 'crash') {
  process.stderr.write('starting\\nException: no storage directory\\n');
  process.exit(2);
} else if (scenario === 'silent') {
  hold();
} else if (scenario === 'ignore-term') {
  process.on('SIGTERM', () => {});
  process.stdout.write('READY 1\\n');
  hold();
}
`;

describe('jvm process', () => {
  let dir: string;
  let script: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'taxi-jvm-unit-'));
    script = path.join(dir, 'fake-jvm.js');
    writeFileSync(script, FAKE_JVM);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const launch = (scenario: string, overrides: Partial<JvmLaunch> = {}): JvmLaunch => ({
    service: 'fake',
    label: 'the fake service',
    java: process.execPath,
    javaOptions: [script],
    jar: 'launcher.jar',
    launcherArgs: [scenario],
    logFile: path.join(dir, 'logs', 'fake.log'),
    readyLine: /^READY (\d+)\s*$/,
    readyTimeoutMs: 5_000,
    stopGraceMs: 5_000,
    unrefWhenReady: false,
    ...overrides,
  });

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('reads READY from whole lines only, and keeps other stdout lines in the log', async () => {
    const jvm = await startJvm(launch('split-ready'));
    try {
      expect(jvm.ready).toBe('8181');
      expect(readFileSync(path.join(dir, 'logs', 'fake.log'), 'utf8')).toBe('[stdout] a stray line\n');
    } finally {
      await jvm.stop();
    }
    await expect(jvm.exited).resolves.toEqual({ code: null, signal: 'SIGTERM' });
    expect(alive(jvm.pid)).toBe(false);
  });

  it('fails a start that exits early with the exit code and the end of the log', async () => {
    const logFile = path.join(dir, 'logs', 'fake.log');
    await expect(startJvm(launch('crash'))).rejects.toThrow(
      `the fake service exited before it was ready (exit 2)\n--- last lines of ${logFile} ---\nstarting\nException: no storage directory`,
    );
  });

  it('fails a start that never prints READY, and kills the process', async () => {
    const start = startJvm(
      launch('silent', {
        readyTimeoutMs: 400,
        failedStartGraceMs: 0,
        describeLog: (logFile) => `(see ${path.basename(logFile)})`,
      }),
    );
    await expect(start).rejects.toThrow('the fake service was not ready within 400 ms\n(see fake.log)');
    expect(alive(Number(readFileSync(path.join(dir, 'pid'), 'utf8')))).toBe(false);
  });

  it('says when the java binary cannot be started', async () => {
    await expect(startJvm(launch('silent', { java: path.join(dir, 'no-such-java') }))).rejects.toThrow(
      /^the fake service could not be started: spawn .*no-such-java ENOENT/,
    );
  });

  it('stops with SIGKILL after the grace period when SIGTERM is ignored, once however often called', async () => {
    const jvm = await startJvm(launch('ignore-term', { stopGraceMs: 300 }));
    const first = jvm.stop();
    expect(jvm.stop()).toBe(first);
    await first;
    await expect(jvm.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(jvm.pid)).toBe(false);
  });
});
