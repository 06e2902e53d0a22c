/**
 * Starts the local AWS emulators as child processes on 127.0.0.1 and creates the pipeline's
 * resources in them. Used by the integration tests, the demo and `npm run local`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createWriteStream, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSqsClient,
} from '../../lib/aws-clients';
import { type AwsEndpoints, loadAwsEndpoints } from '../../lib/config';
import { drainMessages } from '../../lib/dead-letters/dead-letter-queue-export';
import { buildOpenSearchLauncher, type OpenSearchNode, startOpenSearch } from '../opensearch/opensearch-node';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './defaults';
import { type ServiceDiedError, SPAWN_DETACHED, type WatchedProcess, watchProcess } from './service-watch';

/** Credentials the emulators accept; never real ones. */
export { LOCAL_CREDENTIALS, LOCAL_REGION };

export type LocalService = 's3sqs' | 'dynamodb' | 'kinesis' | 'opensearch';

/** The JavaScript emulators; OpenSearch (a JVM) is opt-in, it takes seconds to start. */
export const AWS_SERVICES: readonly LocalService[] = ['s3sqs', 'dynamodb', 'kinesis'];

export interface LocalStackOptions {
  readonly services?: readonly LocalService[];
  /** Fixed ports; 0 or absent = any free port. */
  readonly ports?: Partial<Record<LocalService, number>>;
  /** Folder for service logs (and OpenSearch's data, under logDir/opensearch-home). */
  readonly logDir: string;
}

export interface LocalEndpoints {
  readonly s3sqs?: string;
  readonly dynamodb?: string;
  readonly kinesis?: string;
  readonly opensearch?: string;
}

export interface LocalStack {
  readonly endpoints: LocalEndpoints;
  /** Environment for handlers and SDK clients talking to this stack. */
  env(): Record<string, string>;
  aws(): AwsEndpoints;
  /** Process ids of the running services. */
  readonly pids: Partial<Record<LocalService, number>>;
  /**
   * The first service that exits without stop() having asked it to; pending while all run.
   * Nothing is stopped for you: the others stay up, so what they hold can still be read.
   */
  readonly died: Promise<ServiceDiedError>;
  stop(): Promise<void>;
}

const SERVE = path.join(__dirname, 'serve.mjs');
const READY_TIMEOUT_MS = 20_000;

interface StartedService {
  readonly child: ChildProcess;
  readonly url: string;
  readonly watched: WatchedProcess;
}

async function startService(service: LocalService, port: number, logDir: string): Promise<StartedService> {
  const logFile = path.join(logDir, `${service}.log`);
  // stderr straight into the log (no pipe through this process), so the log is complete when
  // the process is seen to exit and its last lines can be quoted.
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [SERVE, service, String(port)], {
      stdio: ['pipe', 'pipe', logFd],
      // Its own process group: see SPAWN_DETACHED in service-watch.ts.
      detached: SPAWN_DETACHED,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
  } finally {
    closeSync(logFd);
  }
  const watched = watchProcess(child, service, logFile);
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      watched.expectExit();
      child.kill('SIGKILL');
      reject(new Error(`${service} did not start within ${READY_TIMEOUT_MS} ms; see ${logFile}`));
    }, READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const m = /READY (\d+)/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${service} exited with code ${code} before it was ready; see ${logFile}`));
    });
  });
  child.stdout?.pipe(createWriteStream(logFile, { flags: 'a' }));
  return { child, url, watched };
}

export function localEnv(endpoints: LocalEndpoints): Record<string, string> {
  const env: Record<string, string> = {
    ...LOCAL_CREDENTIALS,
    AWS_REGION: LOCAL_REGION,
    S3_FORCE_PATH_STYLE: 'true',
  };
  if (endpoints.s3sqs) {
    env.S3_ENDPOINT_URL = endpoints.s3sqs;
    env.SQS_ENDPOINT_URL = endpoints.s3sqs;
  }
  if (endpoints.dynamodb) env.DYNAMODB_ENDPOINT_URL = endpoints.dynamodb;
  if (endpoints.kinesis) env.KINESIS_ENDPOINT_URL = endpoints.kinesis;
  if (endpoints.opensearch) env.SEARCH_ENDPOINT = endpoints.opensearch;
  return env;
}

/** A single-node OpenSearch with its data in a fresh folder under logDir. */
async function startSearchNode(logDir: string, port: number): Promise<OpenSearchNode> {
  await buildOpenSearchLauncher();
  const home = mkdtempSync(path.join(logDir, 'opensearch-home-'));
  const node = await startOpenSearch({ home, logFile: path.join(logDir, 'opensearch.log'), port });
  return {
    ...node,
    stop: async () => {
      await node.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const services = options.services ?? AWS_SERVICES;
  mkdirSync(options.logDir, { recursive: true });
  const started: Array<{ service: LocalService } & StartedService> = [];
  let search: OpenSearchNode | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all([
      search?.stop(),
      ...started.map(async ({ child, watched }) => {
        watched.expectExit();
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }),
    ]);
  };
  const js = services.filter((s) => s !== 'opensearch');
  const searchReady = services.includes('opensearch')
    ? startSearchNode(options.logDir, options.ports?.opensearch ?? 0).then((node) => {
        search = node;
      })
    : Promise.resolve();
  // Awaited below, also on failure; this keeps an early failure from counting as unhandled.
  searchReady.catch(() => undefined);
  try {
    // Each is on record as soon as it is up, so that a failed start stops the ones already up.
    await Promise.all(
      js.map(async (service) => {
        const one = await startService(service, options.ports?.[service] ?? 0, options.logDir);
        started.push({ service, ...one });
      }),
    );
    await searchReady;
    // In the order asked for, not the order they came up in: endpoints are listed in it.
    started.sort((a, b) => services.indexOf(a.service) - services.indexOf(b.service));
  } catch (error) {
    // A node still starting would otherwise be left running: let it finish, then stop it too.
    await searchReady.catch(() => undefined);
    await stop();
    throw error;
  }
  const endpoints: LocalEndpoints = {
    ...Object.fromEntries(started.map((s) => [s.service, s.url])),
    ...(search ? { opensearch: search.url } : {}),
  };
  const pids: Partial<Record<LocalService, number>> = Object.fromEntries(
    started.map((s) => [s.service, s.child.pid]),
  );
  if (search) pids.opensearch = search.pid;
  return {
    endpoints,
    env: () => localEnv(endpoints),
    aws: () => localAws(endpoints),
    pids,
    died: Promise.race([...started.map((s) => s.watched.died), ...(search ? [search.died] : [])]),
    stop,
  };
}

/** SDK settings for the local endpoints. Credentials come from LOCAL_CREDENTIALS in the env. */
export function localAws(endpoints: LocalEndpoints): AwsEndpoints {
  return loadAwsEndpoints({ ...localEnv(endpoints) });
}

export interface PipelineResources {
  readonly bucket: string;
  readonly ledgerTable: string;
  /** The raw archive's own ledger, when the archive runs. */
  readonly archiveLedgerTable?: string;
  readonly deadLetterQueue: string;
  readonly stream?: string;
  readonly shards?: number;
}

export interface CreatedResources {
  readonly bucket: string;
  readonly ledgerTable: string;
  readonly archiveLedgerTable?: string;
  readonly deadLetterQueueUrl: string;
  readonly stream?: string;
}

export interface LocalClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
}

export function localClients(endpoints: LocalEndpoints): LocalClients {
  for (const [k, v] of Object.entries(LOCAL_CREDENTIALS)) process.env[k] ??= v;
  const aws = localAws(endpoints);
  return {
    s3: createS3Client(aws),
    sqs: createSqsClient(aws),
    dynamodb: createDynamoDbClient(aws),
    kinesis: createKinesisClient(aws),
  };
}

/** A commit ledger table (the lake sink's, or the raw archive's), idempotently. */
export async function createLedgerTable(clients: LocalClients, name: string): Promise<void> {
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
}

/** Creates (idempotently) the bucket, ledger table(s), dead-letter queue and stream. */
export async function createPipelineResources(
  clients: LocalClients,
  names: PipelineResources,
): Promise<CreatedResources> {
  await clients.s3.send(new CreateBucketCommand({ Bucket: names.bucket }));
  await createLedgerTable(clients, names.ledgerTable);
  if (names.archiveLedgerTable) await createLedgerTable(clients, names.archiveLedgerTable);
  const fifo = names.deadLetterQueue.endsWith('.fifo');
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: names.deadLetterQueue,
      Attributes: {
        MessageRetentionPeriod: '1209600',
        ...(fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
      },
    }),
  );
  if (names.stream) {
    try {
      await clients.kinesis.send(
        new CreateStreamCommand({ StreamName: names.stream, ShardCount: names.shards ?? 1 }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    }
    for (let i = 0; i < 100; i++) {
      const out = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: names.stream }));
      if (out.StreamDescription?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    bucket: names.bucket,
    ledgerTable: names.ledgerTable,
    ...(names.archiveLedgerTable ? { archiveLedgerTable: names.archiveLedgerTable } : {}),
    deadLetterQueueUrl: queue.QueueUrl as string,
    ...(names.stream ? { stream: names.stream } : {}),
  };
}

/** Receives and deletes every message on a queue; message bodies parsed as JSON. */
export async function drainQueue<T>(sqs: SQSClient, queueUrl: string): Promise<T[]> {
  const bodies: T[] = [];
  await drainMessages(sqs, queueUrl, (body) => {
    bodies.push(JSON.parse(body || '{}') as T);
  });
  return bodies;
}
