/**
 * A local Apache Iceberg REST catalog on 127.0.0.1 (Iceberg's own REST adapter and servlet over
 * a JdbcCatalog on SQLite, tables on the S3 emulator through S3FileIO) and an independent Java
 * reader for its tables. The JVM side is tools/iceberg/src/main/java/taxistream/iceberg/, built
 * by Maven from Central artifacts into tools/iceberg/target/. docs/iceberg-local.md explains it.
 *
 *   await buildIcebergLauncher();
 *   const catalog = await startIcebergCatalog({ home, logFile, s3Endpoint, warehouse: 's3://bucket/iceberg' });
 *   ... fetch(`${catalog.url}/v1/config`) ...
 *   const report = await readIcebergTable({ catalogUri: catalog.url, table: 'taxi.trips', s3Endpoint });
 *   await catalog.stop();
 *
 * Manual use: `npx tsx tools/iceberg/iceberg-catalog.ts --help`.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { findJavaHome, JAVA_17_HOMES, javaBinary } from '../launchers/java-home';
import { type JvmExit, startJvm } from '../launchers/jvm-process';
import { mavenLauncherBuild, requireLauncherJar } from '../launchers/maven-build';
import type { ServiceDiedError } from '../local-stack/service-watch';

export const ICEBERG_LAUNCHER_JAR = path.join(__dirname, 'target', 'taxi-stream-iceberg.jar');

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_RUN_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;

const READER_CLASS = 'taxistream.iceberg.ReadTable';
const APPEND_CLASS = 'taxistream.iceberg.AppendDataFiles';

/**
 * C1-only compilation and the serial collector: start-up is class loading on 2 shared cores and
 * the catalog's own work is tiny, so C2 and a parallel GC would only cost CPU and memory.
 * JVM warnings go to stderr because stdout is the READY / JSON channel.
 */
export const DEFAULT_CATALOG_JAVA_OPTIONS: readonly string[] = [
  '-Xms32m',
  '-Xmx256m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:+ExitOnOutOfMemoryError',
  '-Xlog:disable',
  '-Xlog:all=warning:stderr',
  '-Dfile.encoding=UTF-8',
];

const TOOL_JAVA_OPTIONS: readonly string[] = [
  '-Xmx512m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xlog:disable',
  '-Xlog:all=warning:stderr',
  '-Dfile.encoding=UTF-8',
];

export interface StartIcebergCatalogOptions {
  /** A directory owned by the caller: the SQLite catalog (catalog.sqlite) and temp files go here. */
  readonly home: string;
  /** The catalog's log (appended); read it when a start fails. */
  readonly logFile: string;
  /** The S3 API the tables live on, e.g. the local emulator's http://127.0.0.1:PORT. */
  readonly s3Endpoint: string;
  /** `s3://BUCKET/PREFIX`: new namespaces and tables go below it. The bucket must exist. */
  readonly warehouse: string;
  /** HTTP port; 0 or absent = any free port. */
  readonly port?: number;
  /** JDBC URL of the catalog store; default a SQLite file in `home` (kept across restarts). */
  readonly jdbcUri?: string;
  /** Extra or overriding catalog properties (JdbcCatalog, S3FileIO), e.g. `{ 's3.multipart.part-size-bytes': '8388608' }`. */
  readonly properties?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
  /** Replaces DEFAULT_CATALOG_JAVA_OPTIONS. */
  readonly javaOptions?: readonly string[];
}

export type IcebergCatalogExit = JvmExit;

export interface IcebergCatalog {
  /** The service's name for logs and process watchers. */
  readonly name: 'iceberg-catalog';
  /** http://127.0.0.1:PORT, no trailing slash: the REST catalog's base (`/v1/config` below it). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** The JVM, for watchers: an exit before stop() is a crash (see the log file). */
  readonly process: ChildProcess;
  /** Resolves when the JVM has exited, whatever the reason; never rejects. */
  readonly exited: Promise<IcebergCatalogExit>;
  /** Resolves when the JVM exits without stop() having asked it to (a ServiceWatch takes it). */
  readonly died: Promise<ServiceDiedError>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The Java home to build and run with, or undefined to use `java` on PATH. Iceberg 1.11 runs on
 * Java 11+; Java 17 is what every machine here has and what was tested.
 */
export function icebergJavaHome(): string | undefined {
  return findJavaHome([...JAVA_17_HOMES, process.env.JAVA_HOME]);
}

/** The java binary every catalog, reader and append run uses. */
export function icebergJava(): string {
  return javaBinary(icebergJavaHome());
}

const build = mavenLauncherBuild({
  toolDir: __dirname,
  jar: ICEBERG_LAUNCHER_JAR,
  javaHome: icebergJavaHome,
});

/**
 * Builds target/taxi-stream-iceberg.jar and target/lib/ with Maven when they are missing or older
 * than pom.xml / src/. The first build downloads ~160 MB (plugins included) into ~/.m2; later ones are offline.
 */
export function buildIcebergLauncher(): Promise<void> {
  return build();
}

/**
 * Starts the catalog (the launcher must be built) and resolves once HTTP accepts connections on
 * 127.0.0.1. If the caller dies without stop(), the catalog still goes: it exits when its stdin
 * pipe from this process closes.
 */
export async function startIcebergCatalog(options: StartIcebergCatalogOptions): Promise<IcebergCatalog> {
  requireLauncherJar(ICEBERG_LAUNCHER_JAR, 'buildIcebergLauncher');
  const home = path.resolve(options.home);
  const logFile = path.resolve(options.logFile);
  const jvm = await startJvm({
    service: 'iceberg-catalog',
    label: 'the Iceberg catalog',
    java: icebergJava(),
    javaOptions: options.javaOptions ?? DEFAULT_CATALOG_JAVA_OPTIONS,
    jar: ICEBERG_LAUNCHER_JAR,
    launcherArgs: [
      '--home',
      home,
      '--warehouse',
      options.warehouse,
      '--s3-endpoint',
      options.s3Endpoint,
      '--port',
      String(options.port ?? 0),
      ...(options.jdbcUri === undefined ? [] : ['--jdbc-uri', options.jdbcUri]),
      ...Object.entries(options.properties ?? {}).flatMap(([key, value]) => [
        '--property',
        `${key}=${value}`,
      ]),
    ],
    // sqlite-jdbc unpacks its native library into home/tmp.
    home,
    logFile,
    readyLine: /^READY (\d+)\s*$/,
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    stopGraceMs: STOP_GRACE_MS,
    unrefWhenReady: true,
  });
  const port = Number(jvm.ready);
  return {
    name: 'iceberg-catalog',
    url: `http://127.0.0.1:${port}`,
    port,
    pid: jvm.pid,
    logFile,
    process: jvm.child,
    exited: jvm.exited,
    died: jvm.died,
    stop: jvm.stop,
  };
}

export interface IcebergClientOptions {
  /** The REST catalog's base URL (IcebergCatalog.url). */
  readonly catalogUri: string;
  /** `namespace.table`. */
  readonly table: string;
  /** The S3 API the table's files are on. */
  readonly s3Endpoint: string;
  /** Extra client properties (RESTCatalog, S3FileIO). */
  readonly properties?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface ReadIcebergTableOptions extends IcebergClientOptions {
  /** Read this snapshot instead of the current one. */
  readonly snapshotId?: string;
  /** Top-level primitive columns that together should be unique; keys seen twice are reported. */
  readonly keyColumns?: readonly string[];
  /** Writes every row as one JSON line here (longs, decimals and timestamps as strings). */
  readonly rowsOut?: string;
  /** At most this many duplicate keys are listed (all are counted); default 1000. */
  readonly maxDuplicates?: number;
}

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  /** Iceberg's type name: `long`, `string`, `timestamptz`, `decimal(9, 2)`, `struct<...>`, ... */
  readonly type: string;
  readonly required: boolean;
  readonly doc?: string;
  readonly fields?: readonly IcebergField[];
}

export interface IcebergSnapshotInfo {
  /** Decimal string: snapshot IDs use 63 bits and lose digits as JavaScript numbers. */
  readonly snapshotId: string;
  readonly parentId: string | null;
  readonly sequenceNumber: number;
  readonly timestampMs: number;
  readonly operation: string;
  readonly schemaId?: number;
  readonly manifestList: string;
  readonly summary: Readonly<Record<string, string>>;
}

export interface IcebergTableReport {
  readonly table: string;
  readonly location: string;
  readonly formatVersion: number;
  /** Rows in the snapshot read (every data file counted as often as the scan lists it). */
  readonly rows: number;
  readonly schemaId: number;
  readonly schema: readonly IcebergField[];
  readonly partitionSpec: {
    readonly specId: number;
    readonly fields: ReadonlyArray<{ fieldId: number; sourceId: number; name: string; transform: string }>;
  };
  /** Every snapshot in the table's metadata, oldest first. */
  readonly snapshots: readonly IcebergSnapshotInfo[];
  readonly currentSnapshotId: string | null;
  /** The snapshot whose rows were read: the current one unless snapshotId was given. */
  readonly readSnapshotId: string | null;
  /** Data file locations of the snapshot read, in scan order; a file appended twice is listed twice. */
  readonly dataFiles: readonly string[];
  readonly keyColumns: readonly string[];
  /** Distinct keys seen more than once. */
  readonly duplicateKeys: number;
  /** The first maxDuplicates of them, with how often each was seen. */
  readonly duplicates: ReadonlyArray<{ key: Record<string, unknown>; count: number }>;
}

export interface AppendIcebergDataFilesOptions extends IcebergClientOptions {
  /** `s3://` locations of Parquet files with Iceberg field IDs, each within one partition. */
  readonly files: readonly string[];
}

export interface IcebergAppendResult {
  readonly snapshotId: string;
  readonly sequenceNumber: number;
  readonly addedFiles: number;
  readonly addedRecords: number;
}

function clientArgs(options: IcebergClientOptions): string[] {
  return [
    '--catalog-uri',
    options.catalogUri,
    '--table',
    options.table,
    '--s3-endpoint',
    options.s3Endpoint,
    ...Object.entries(options.properties ?? {}).flatMap(([key, value]) => ['--property', `${key}=${value}`]),
  ];
}

/** Runs one of the jar's short-lived mains and parses the single JSON line it prints. */
async function runJsonTool<T>(mainClass: string, args: readonly string[], timeoutMs: number): Promise<T> {
  requireLauncherJar(ICEBERG_LAUNCHER_JAR, 'buildIcebergLauncher');
  const child = spawn(
    icebergJava(),
    [...TOOL_JAVA_OPTIONS, '-cp', ICEBERG_LAUNCHER_JAR, mainClass, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    const text = Buffer.concat(stdout).toString('utf8').trim();
    if (code !== 0) {
      const why = signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : (signal ?? `exit ${code}`);
      throw new Error(`${mainClass} failed (${why}):\n${stderr.trim()}`);
    }
    // Every 64-bit number in the output is a string, so plain JSON.parse loses nothing.
    return JSON.parse(text) as T;
  } finally {
    clearTimeout(timer);
  }
}

/** Scans a table with Iceberg's Java generic reader (IcebergGenerics); about 2-4 s per call. */
export function readIcebergTable(options: ReadIcebergTableOptions): Promise<IcebergTableReport> {
  const args = [
    ...clientArgs(options),
    ...(options.snapshotId === undefined ? [] : ['--snapshot-id', options.snapshotId]),
    ...(options.keyColumns === undefined || options.keyColumns.length === 0
      ? []
      : ['--key-columns', options.keyColumns.join(',')]),
    ...(options.rowsOut === undefined ? [] : ['--rows-out', path.resolve(options.rowsOut)]),
    ...(options.maxDuplicates === undefined ? [] : ['--max-duplicates', String(options.maxDuplicates)]),
  ];
  return runJsonTool<IcebergTableReport>(READER_CLASS, args, options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
}

/**
 * Appends Parquet files already on S3 to a table in one snapshot, with Iceberg's own Java
 * manifest writer (metrics from each file's footer, partition from its bounds).
 */
export function appendIcebergDataFiles(options: AppendIcebergDataFilesOptions): Promise<IcebergAppendResult> {
  if (options.files.length === 0)
    return Promise.reject(new Error('appendIcebergDataFiles needs at least one file'));
  const args = [...clientArgs(options), ...options.files.flatMap((file) => ['--file', file])];
  return runJsonTool<IcebergAppendResult>(APPEND_CLASS, args, options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
}

const HELP = `npx tsx tools/iceberg/iceberg-catalog.ts [options]

Builds (when stale) and starts the local Iceberg REST catalog on 127.0.0.1 until Ctrl-C.

  --s3-endpoint URL   the S3 API for the tables (default $S3_ENDPOINT_URL, else http://127.0.0.1:4566)
  --warehouse S3URL   s3://BUCKET/PREFIX for new tables; the bucket must exist
                      (default s3://taxi-stream-lake/iceberg, the bucket of npm run local)
  --port N            HTTP port (default 8181; 0 = any free port)
  --home DIR          the SQLite catalog and the log (default .local/iceberg)
  --help              this text`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const known = ['--s3-endpoint', '--warehouse', '--port', '--home'];
  for (let i = 0; i < argv.length; i += 2) {
    if (!known.includes(argv[i] ?? '') || argv[i + 1] === undefined) {
      throw new Error(`unknown or incomplete argument ${argv[i]} (see --help)`);
    }
  }
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const home = path.resolve(flag('--home') ?? '.local/iceberg');
  const s3Endpoint = flag('--s3-endpoint') ?? process.env.S3_ENDPOINT_URL ?? 'http://127.0.0.1:4566';
  const started = Date.now();
  await buildIcebergLauncher();
  const catalog = await startIcebergCatalog({
    home,
    logFile: path.join(home, 'catalog.log'),
    s3Endpoint,
    warehouse: flag('--warehouse') ?? 's3://taxi-stream-lake/iceberg',
    port: Number(flag('--port') ?? 8181),
  });
  process.stdout.write(
    `Iceberg REST catalog at ${catalog.url} (pid ${catalog.pid}, S3 ${s3Endpoint}, log ${catalog.logFile}, ` +
      `${Date.now() - started} ms); Ctrl-C stops it\n`,
  );
  // Keep this process up for as long as the catalog runs, and say so when it dies on its own.
  catalog.process.ref();
  let stopping = false;
  void catalog.exited.then(({ code, signal }) => {
    if (stopping) return;
    process.stderr.write(`Iceberg catalog exited (${signal ?? `exit ${code}`}); see ${catalog.logFile}\n`);
    process.exitCode = 1;
  });
  const shutdown = (): void => {
    stopping = true;
    void catalog.stop();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
