/**
 * A real single-node Apache Kafka 4.4 (KRaft: broker and controller in one JVM) on 127.0.0.1 for
 * local runs and integration tests. The JVM side is tools/kafka/src/main/java/taxistream/kafka/
 * LocalBroker.java, built by Maven from Central artifacts into tools/kafka/target/.
 *
 * Manual use: `npx tsx tools/kafka/kafka-broker.ts [--port 9092] [--dir .local/kafka]`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  SERVICE_DIED_EXIT_CODE,
  type ServiceDiedError,
  SPAWN_DETACHED,
  watchProcess,
} from '../local-stack/service-watch';

export interface StartKafkaOptions {
  /** Broker state (server.properties, data/). Reusing a directory keeps topics and offsets. */
  readonly dir: string;
  /** The JVM's stderr (all broker logs) is appended here. */
  readonly logFile: string;
  /** Client (PLAINTEXT) port; 0 or absent = any free port. */
  readonly port?: number;
  /** KRaft controller port; 0 or absent = any free port. */
  readonly controllerPort?: number;
  readonly readyTimeoutMs?: number;
  /** Extra or overriding broker settings, e.g. `{ 'auto.create.topics.enable': 'true' }`. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface KafkaBroker {
  /** `127.0.0.1:<port>`, for a client's bootstrap brokers list. */
  readonly bootstrap: string;
  readonly pid: number;
  /**
   * Resolves when the broker exits without stop() (killed from outside, crashed), naming its
   * log; pending while it runs.
   */
  readonly died: Promise<ServiceDiedError>;
  /** SIGTERM, then SIGKILL if the broker is still up after the grace period. Idempotent. */
  stop(): Promise<void>;
}

const KAFKA_TOOL_DIR = __dirname;
const TARGET_DIR = path.join(KAFKA_TOOL_DIR, 'target');
const LAUNCHER_JAR = path.join(TARGET_DIR, 'taxi-stream-kafka.jar');
const LIB_DIR = path.join(TARGET_DIR, 'lib');
// Written after a successful build; the jar's own mtime is no guide because the jar plugin
// leaves an unchanged jar untouched.
const BUILD_STAMP = path.join(TARGET_DIR, '.build-stamp');
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 20_000;
// A run that writes the class-data archive spends several seconds dumping it at exit.
const STOP_GRACE_WHILE_ARCHIVING_MS = 60_000;

const JVM_OPTIONS = [
  '-Xms64m',
  '-Xmx512m',
  '-XX:+ExitOnOutOfMemoryError',
  // C1 only: startup is mostly class loading and JIT work competing for two cores; test traffic
  // is far too small to need C2's peak throughput.
  '-XX:TieredStopAtLevel=1',
  // The JVM's own warnings (CDS among them) go to stdout by default, which is the READY channel.
  '-Xlog:disable',
  '-Xlog:all=warning:stderr',
  '-Djava.awt.headless=true',
];

let buildInFlight: Promise<void> | undefined;

/**
 * Runs `mvn -B -q package` in tools/kafka when the launcher jar or its runtime classpath is
 * missing or older than pom.xml / src. Needs Maven Central the first time only; afterwards
 * everything comes from ~/.m2 and target/lib.
 */
export async function buildKafkaLauncher(): Promise<void> {
  buildInFlight ??= buildIfStale().finally(() => {
    buildInFlight = undefined;
  });
  return buildInFlight;
}

async function buildIfStale(): Promise<void> {
  if (!launcherIsStale()) {
    return;
  }
  const output: Buffer[] = [];
  const mvn = spawn('mvn', ['-B', '-q', 'package'], {
    cwd: KAFKA_TOOL_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  mvn.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  mvn.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const code = await exitCodeOf(mvn);
  if (code !== 0) {
    const text = Buffer.concat(output).toString('utf8');
    throw new Error(`mvn package in ${KAFKA_TOOL_DIR} failed (exit ${code}):\n${text.slice(-4000)}`);
  }
  // Archives are tied to the exact jars they were dumped from; the JVM would ignore stale ones.
  for (const name of readdirSync(TARGET_DIR)) {
    if (name.startsWith('cds-')) {
      rmSync(path.join(TARGET_DIR, name), { force: true });
    }
  }
  writeFileSync(BUILD_STAMP, `${new Date().toISOString()}\n`);
}

function launcherIsStale(): boolean {
  if (!existsSync(LAUNCHER_JAR) || !existsSync(BUILD_STAMP) || !existsSync(LIB_DIR)) {
    return true;
  }
  if (!readdirSync(LIB_DIR).some((name) => name.startsWith('kafka_2.13-'))) {
    return true;
  }
  const builtAt = statSync(BUILD_STAMP).mtimeMs;
  const inputs = [path.join(KAFKA_TOOL_DIR, 'pom.xml'), ...filesUnder(path.join(KAFKA_TOOL_DIR, 'src'))];
  return inputs.some((file) => statSync(file).mtimeMs > builtAt);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/**
 * Starts the broker (call buildKafkaLauncher first) and resolves once it prints READY, i.e. once
 * it is registered, unfenced and answering metadata requests.
 */
export async function startKafka(opts: StartKafkaOptions): Promise<KafkaBroker> {
  if (!existsSync(LAUNCHER_JAR)) {
    throw new Error(`${LAUNCHER_JAR} is missing: call buildKafkaLauncher() first`);
  }
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  mkdirSync(opts.dir, { recursive: true });
  mkdirSync(path.dirname(opts.logFile), { recursive: true });

  const java = javaBinary();
  const archive = classDataArchive(java);
  // Loading Kafka's classes from a class-data archive roughly halves start-to-ready. The first
  // run without one dumps it at exit (to a private name, so parallel runs cannot clash).
  const archiving = !existsSync(archive);
  const pendingArchive = `${archive}.${process.pid}.${Date.now()}.tmp`;
  const cdsOptions = archiving
    ? [`-XX:ArchiveClassesAtExit=${pendingArchive}`]
    : [`-XX:SharedArchiveFile=${archive}`];

  const args = [
    ...JVM_OPTIONS,
    ...cdsOptions,
    '-jar',
    LAUNCHER_JAR,
    '--dir',
    path.resolve(opts.dir),
    '--port',
    String(opts.port ?? 0),
    '--controller-port',
    String(opts.controllerPort ?? 0),
    '--ready-timeout-ms',
    String(readyTimeoutMs),
    ...Object.entries(opts.properties ?? {}).flatMap(([key, value]) => ['--prop', `${key}=${value}`]),
  ];

  const logFd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    // stdin stays open for the broker's lifetime: if this process dies, the broker sees EOF
    // and shuts itself down instead of outliving the test run. In its own process group (see
    // SPAWN_DETACHED in service-watch.ts), a Ctrl-C reaches only this process, which stops it.
    child = spawn(java, args, { stdio: ['pipe', 'pipe', logFd], detached: SPAWN_DETACHED });
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  const watched = watchProcess(child, 'kafka', opts.logFile);
  let becameReady = false;
  const exited = exitCodeOf(child).then(
    (code) => {
      closeSync(logFd);
      // Keep only archives from runs that got to READY (a failed start loads too few classes)
      // and were not killed by a signal (code null), which can leave a half-written file.
      if (archiving && becameReady && code !== null && existsSync(pendingArchive)) {
        renameSync(pendingArchive, archive);
      } else {
        rmSync(pendingArchive, { force: true });
      }
      return code;
    },
    (err: unknown) => {
      closeSync(logFd);
      throw err;
    },
  );

  let bootstrap: string;
  try {
    bootstrap = await waitForReady(child, exited, logFd, readyTimeoutMs, opts.logFile);
    becameReady = true;
  } catch (err) {
    watched.expectExit();
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    child.stdin?.destroy();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      watched.expectExit();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const grace = archiving ? STOP_GRACE_WHILE_ARCHIVING_MS : STOP_GRACE_MS;
        const timer = setTimeout(() => child.kill('SIGKILL'), grace);
        try {
          await exited.catch(() => undefined);
        } finally {
          clearTimeout(timer);
        }
      } else {
        await exited.catch(() => undefined);
      }
      child.stdin?.destroy();
    })();
    return stopping;
  };

  return { bootstrap, pid: child.pid ?? -1, died: watched.died, stop };
}

function waitForReady(
  child: ChildProcess,
  exited: Promise<number | null>,
  logFd: number,
  timeoutMs: number,
  logFile: string,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        fn();
      }
    };
    const timer = setTimeout(
      () =>
        settle(() => reject(new Error(`Kafka not ready within ${timeoutMs} ms; log:\n${logTail(logFile)}`))),
      timeoutMs,
    );
    if (child.stdout === null) {
      settle(() => reject(new Error('Kafka child has no stdout pipe')));
      return;
    }
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const ready = /^READY (\S+)$/.exec(line);
      if (ready?.[1] !== undefined) {
        const address = ready[1];
        settle(() => resolve(address));
      } else {
        // Only READY is expected on stdout; keep anything else where people will look.
        try {
          writeSync(logFd, `[stdout] ${line}\n`);
        } catch {
          // The log is closed once the child is gone; a late line is not worth a crash.
        }
      }
    });
    exited.then(
      (code) =>
        settle(() =>
          reject(new Error(`Kafka exited (code ${code}) before it was ready; log:\n${logTail(logFile)}`)),
        ),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

/**
 * The cause of a failed start is usually thousands of lines up, followed by shutdown noise, so
 * quote the first errors as well as the end of the log.
 */
function logTail(logFile: string): string {
  let lines: string[];
  try {
    lines = readFileSync(logFile, 'utf8').split('\n');
  } catch {
    return `(no log at ${logFile})`;
  }
  const errors = lines.filter((line) => /\bERROR\b|Exception:|^LocalBroker:/.test(line)).slice(0, 8);
  return [...errors, '...', ...lines.slice(-15), `(full log: ${logFile})`].join('\n');
}

/**
 * Exit code (null when ended by a signal). Waits for 'close' rather than 'exit' so that stdout
 * has been read to the end before callers close the log it is copied to.
 */
function exitCodeOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

function javaBinary(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? path.join(javaHome, 'bin', 'java') : 'java';
}

/**
 * One archive per JDK: an archive only loads into the JVM that wrote it. The key includes the
 * binary's mtime so that a JDK upgraded in place gets a fresh archive instead of a silently
 * ignored one.
 */
function classDataArchive(java: string): string {
  const resolved = resolveOnPath(java);
  const key = resolved ? `${realpathSync(resolved)}:${statSync(resolved).mtimeMs}` : java;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return path.join(TARGET_DIR, `cds-${hash}.jsa`);
}

function resolveOnPath(binary: string): string | undefined {
  const candidates = binary.includes(path.sep)
    ? [binary]
    : (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, binary));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dir = path.resolve(flag('--dir') ?? '.local/kafka');
  await buildKafkaLauncher();
  const broker = await startKafka({
    dir,
    logFile: path.join(dir, 'broker.log'),
    port: Number(flag('--port') ?? 9092),
  });
  process.stdout.write(`Kafka ready at ${broker.bootstrap} (pid ${broker.pid}); Ctrl-C stops it\n`);
  const shutdown = (): void => {
    void broker.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  void broker.died.then((death) => {
    process.stderr.write(`${death.describe()}\n`);
    process.exit(SERVICE_DIED_EXIT_CODE);
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
