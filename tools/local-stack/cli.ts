/**
 * npm run local -- [--help] [--port-base N] [--shards N] [--search] [--iceberg] [--dir DIR]
 * Starts the local emulators (S3+SQS, DynamoDB, Kinesis; OpenSearch with --search) on 127.0.0.1, creates the
 * pipeline's bucket, ledger table, dead-letter queue and stream, writes the environment to
 * .local/stack.env and stays in the foreground until Ctrl-C, then stops everything. A service
 * that dies on its own ends it too: the message names it, the others are stopped, exit 4.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildIcebergLauncher, type IcebergCatalog, startIcebergCatalog } from '../iceberg/iceberg-catalog';
import { LOCAL_ICEBERG_PORT, LOCAL_PORT_BASE, LOCAL_RESOURCES, LOCAL_SEARCH_PORT } from './defaults';
import { type CreatedResources, createPipelineResources, localClients, startLocalStack } from './local-stack';
import { SERVICE_DIED_EXIT_CODE, type ServiceDiedError, ServiceWatch } from './service-watch';

const HELP = `Usage: npm run local -- [options]

Starts S3+SQS (fauxqs), DynamoDB (dynalite) and Kinesis (kinesalite) on 127.0.0.1,
creates the pipeline resources and waits until Ctrl-C. If one of the services exits on its
own, the others are stopped and the command exits with code ${SERVICE_DIED_EXIT_CODE}, naming the service and its log.

Options:
  --port-base N   S3+SQS on N, DynamoDB on N+1, Kinesis on N+2 (default ${LOCAL_PORT_BASE});
                  0 = any free ports (see stack.env for the ones taken)
  --shards N      shards of the ${LOCAL_RESOURCES.stream} stream (default 2)
  --search        also start a local OpenSearch node on port ${LOCAL_SEARCH_PORT} (about 10 s; the first
                  run builds its launcher with Maven); any free port with --port-base 0
  --iceberg       also start Apache Iceberg's REST catalog on port ${LOCAL_ICEBERG_PORT} (warehouse
                  s3://${LOCAL_RESOURCES.bucket}/warehouse, catalog kept in DIR/iceberg), for
                  LAKE_FORMAT=iceberg and the table committer; ICEBERG_CATALOG_URI goes
                  into stack.env (the first run builds its launcher with Maven)
  --dir DIR       where stack.env and logs/ go (default .local)
  --help          this text

Then, in another shell:  set -a; . .local/stack.env; set +a
`;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new Error(`${name} needs an integer, got ${args[i + 1]}`);
  return value;
}

async function main(): Promise<void> {
  // The emulators' clients run on this machine's Node 20; the SDK's upgrade nag is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const base = option(args, '--port-base', LOCAL_PORT_BASE);
  const shards = option(args, '--shards', 2);
  const root = path.resolve(__dirname, '..', '..');
  const dirIndex = args.indexOf('--dir');
  if (dirIndex >= 0 && !args[dirIndex + 1]) throw new Error('--dir needs a folder');
  const localDir = dirIndex >= 0 ? path.resolve(args[dirIndex + 1] as string) : path.join(root, '.local');
  mkdirSync(localDir, { recursive: true });
  const search = args.includes('--search');
  const stack = await startLocalStack({
    logDir: path.join(localDir, 'logs'),
    services: search ? ['s3sqs', 'dynamodb', 'kinesis', 'opensearch'] : ['s3sqs', 'dynamodb', 'kinesis'],
    ports:
      base === 0 ? {} : { s3sqs: base, dynamodb: base + 1, kinesis: base + 2, opensearch: LOCAL_SEARCH_PORT },
  });
  let catalog: IcebergCatalog | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all([catalog?.stop(), stack.stop()]);
  };
  const stop = async (): Promise<void> => {
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Whoever sourced stack.env would otherwise talk to a closed port with no word of why.
  let dying: Promise<never> | undefined;
  const died = (death: ServiceDiedError): Promise<never> => {
    dying ??= (async () => {
      process.stderr.write(`\n${death.describe()}\nstopping the other local services\n`);
      await stopAll();
      process.exit(SERVICE_DIED_EXIT_CODE);
    })();
    return dying;
  };
  const watch = new ServiceWatch();
  watch.add(stack.died);
  void watch.died.then(died);
  let created: CreatedResources;
  try {
    created = await createPipelineResources(localClients(stack.endpoints), { ...LOCAL_RESOURCES, shards });
    if (args.includes('--iceberg')) {
      await watch.guard(buildIcebergLauncher());
      catalog = await watch.guard(
        startIcebergCatalog({
          home: path.join(localDir, 'iceberg'),
          logFile: path.join(localDir, 'logs', 'iceberg-catalog.log'),
          s3Endpoint: stack.endpoints.s3sqs as string,
          warehouse: `s3://${created.bucket}/warehouse`,
          port: base === 0 ? 0 : LOCAL_ICEBERG_PORT,
        }),
      );
      watch.add(catalog.died);
    }
  } catch (error) {
    const death = await watch.causeOf(error);
    if (death) return died(death);
    await stopAll();
    throw error;
  }
  const env = {
    ...stack.env(),
    LAKE_BUCKET: created.bucket,
    LEDGER_TABLE: created.ledgerTable,
    ARCHIVE_LEDGER_TABLE: LOCAL_RESOURCES.archiveLedgerTable,
    DEAD_LETTER_QUEUE_URL: created.deadLetterQueueUrl,
    TRIP_STREAM: LOCAL_RESOURCES.stream,
    ...(catalog ? { ICEBERG_CATALOG_URI: catalog.url } : {}),
  };
  const envFile = path.join(localDir, 'stack.env');
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  process.stdout.write(
    `Local services up (127.0.0.1):\n${Object.entries({
      ...stack.endpoints,
      ...(catalog ? { iceberg: catalog.url } : {}),
    })
      .map(([k, v]) => `  ${k.padEnd(9)} ${v}`)
      .join(
        '\n',
      )}\nResources: bucket ${created.bucket}, table ${created.ledgerTable}, queue ${created.deadLetterQueueUrl}, stream ${LOCAL_RESOURCES.stream} (${shards} shards)\nEnvironment written to ${path.relative(root, envFile)}. Ctrl-C stops everything.\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`local stack failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
