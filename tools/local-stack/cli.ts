/**
 * npm run local -- [--help] [--port-base N] [--shards N] [--search]
 * Starts the local emulators (S3+SQS, DynamoDB, Kinesis; OpenSearch with --search) on 127.0.0.1, creates the
 * pipeline's bucket, ledger table, dead-letter queue and stream, writes the environment to
 * .local/stack.env and stays in the foreground until Ctrl-C, then stops everything.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_PORT_BASE, LOCAL_RESOURCES, LOCAL_SEARCH_PORT } from './defaults';
import { createPipelineResources, localClients, startLocalStack } from './local-stack';

const HELP = `Usage: npm run local -- [options]

Starts S3+SQS (fauxqs), DynamoDB (dynalite) and Kinesis (kinesalite) on 127.0.0.1,
creates the pipeline resources and waits until Ctrl-C.

Options:
  --port-base N   S3+SQS on N, DynamoDB on N+1, Kinesis on N+2 (default ${LOCAL_PORT_BASE})
  --shards N      shards of the ${LOCAL_RESOURCES.stream} stream (default 2)
  --search        also start a local OpenSearch node on port ${LOCAL_SEARCH_PORT} (about 10 s; the first
                  run builds its launcher with Maven)
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
  const localDir = path.join(root, '.local');
  mkdirSync(localDir, { recursive: true });
  const search = args.includes('--search');
  const stack = await startLocalStack({
    logDir: path.join(localDir, 'logs'),
    services: search ? ['s3sqs', 'dynamodb', 'kinesis', 'opensearch'] : ['s3sqs', 'dynamodb', 'kinesis'],
    ports: { s3sqs: base, dynamodb: base + 1, kinesis: base + 2, opensearch: LOCAL_SEARCH_PORT },
  });
  const stop = async (): Promise<void> => {
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const created = await createPipelineResources(localClients(stack.endpoints), {
    ...LOCAL_RESOURCES,
    shards,
  });
  const env = {
    ...stack.env(),
    LAKE_BUCKET: created.bucket,
    LEDGER_TABLE: created.ledgerTable,
    DEAD_LETTER_QUEUE_URL: created.deadLetterQueueUrl,
    TRIP_STREAM: LOCAL_RESOURCES.stream,
  };
  const envFile = path.join(localDir, 'stack.env');
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  process.stdout.write(
    `Local services up (127.0.0.1):\n${Object.entries(stack.endpoints)
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
