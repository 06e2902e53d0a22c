/**
 * Builds a tool's Java launcher (tools/opensearch, tools/kafka, tools/iceberg) with Maven on
 * demand: `mvn -B -q package` runs only when the jar or target/lib/ is missing or older than
 * pom.xml / src/, under a lock so that Jest workers and a CLI building at once do not share one
 * target/. The first build downloads from Maven Central into ~/.m2; later ones are offline.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The jar plugin leaves an up-to-date jar untouched, so its mtime cannot tell "built after the
// last edit"; this stamp carries the start time of the last successful build instead (an edit
// made while Maven runs then still counts as newer).
const BUILD_STAMP = '.taxi-stream-build-stamp';
const BUILD_LOCK = '.taxi-stream-build-lock';
// A build killed mid-way leaves its lock behind; no real build takes this long.
const BUILD_LOCK_STALE_MS = 15 * 60_000;
const LOCK_POLL_MS = 250;
// Only the end of Maven's output matters for a failure report; a chatty first download must not
// grow memory without bound.
const OUTPUT_TAIL_CHARS = 20_000;

export interface MavenLauncher {
  /** The tool's folder: pom.xml, src/ and target/. */
  readonly toolDir: string;
  /** The jar `mvn package` produces, in toolDir/target. */
  readonly jar: string;
  /** JAVA_HOME for Maven, read when a build starts; undefined keeps the caller's environment. */
  readonly javaHome?: () => string | undefined;
  /** Whatever else a usable build must have left behind (e.g. one particular jar in target/lib). */
  readonly outputsComplete?: () => boolean;
  /** Runs after a successful Maven run, before the stamp: clear what the old jars made. */
  readonly afterBuild?: () => void;
}

/** Names the build step the caller skipped, instead of a JVM's "Unable to access jarfile" in a log. */
export function requireLauncherJar(jar: string, buildFunction: string): void {
  if (!existsSync(jar)) throw new Error(`${jar} is missing: call ${buildFunction}() first`);
}

/**
 * A build function for one launcher: each call builds when stale, and calls made while a build
 * runs share it.
 */
export function mavenLauncherBuild(launcher: MavenLauncher): () => Promise<void> {
  let pendingBuild: Promise<void> | undefined;
  return () => {
    pendingBuild ??= buildIfStale(launcher).finally(() => {
      pendingBuild = undefined;
    });
    return pendingBuild;
  };
}

async function buildIfStale(launcher: MavenLauncher): Promise<void> {
  if (!launcherIsStale(launcher)) return;
  const targetDir = path.join(launcher.toolDir, 'target');
  await withBuildLock(targetDir, async () => {
    // Another process may have finished the same build while we waited for the lock.
    if (!launcherIsStale(launcher)) return;
    const startedAt = new Date();
    await runMaven(launcher);
    launcher.afterBuild?.();
    const stamp = path.join(targetDir, BUILD_STAMP);
    writeFileSync(stamp, '');
    utimesSync(stamp, startedAt, startedAt);
  });
}

/** Directories count too: deleting a source file changes only its directory's mtime. */
function newestMtimeMs(entry: string): number {
  const stat = statSync(entry, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, name)));
  return newest;
}

function launcherIsStale(launcher: MavenLauncher): boolean {
  const targetDir = path.join(launcher.toolDir, 'target');
  const stamp = path.join(targetDir, BUILD_STAMP);
  if (!existsSync(launcher.jar) || !existsSync(stamp) || !existsSync(path.join(targetDir, 'lib'))) {
    return true;
  }
  if (launcher.outputsComplete !== undefined && !launcher.outputsComplete()) return true;
  const inputs = Math.max(
    newestMtimeMs(path.join(launcher.toolDir, 'pom.xml')),
    newestMtimeMs(path.join(launcher.toolDir, 'src')),
  );
  return inputs > statSync(stamp).mtimeMs;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Two Maven runs in one target/ corrupt each other; mkdir is atomic across processes. */
async function withBuildLock<T>(targetDir: string, work: () => Promise<T>): Promise<T> {
  const lockDir = path.join(targetDir, BUILD_LOCK);
  mkdirSync(targetDir, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = statSync(lockDir, { throwIfNoEntry: false });
      if (lock !== undefined && Date.now() - lock.mtimeMs > BUILD_LOCK_STALE_MS) {
        rmSync(lockDir, { recursive: true, force: true });
      } else {
        await sleep(LOCK_POLL_MS);
      }
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

async function runMaven(launcher: MavenLauncher): Promise<void> {
  const env = { ...process.env };
  const javaHome = launcher.javaHome?.();
  if (javaHome !== undefined) env.JAVA_HOME = javaHome;
  const child = spawn(process.env.MVN ?? 'mvn', ['-B', '-q', '-Dstyle.color=never', 'package'], {
    cwd: launcher.toolDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  // 'error' (no mvn on PATH) rejects here instead of going unhandled.
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(
      `mvn package in ${launcher.toolDir} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`,
    );
  }
}
