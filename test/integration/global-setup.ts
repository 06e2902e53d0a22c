import path from 'node:path';
import { startLocalStack } from '../../tools/local-stack/local-stack';

/** Starts the local emulators once for the whole integration run; workers read the env. */
export default async function globalSetup(): Promise<void> {
  const logDir = path.join(__dirname, '..', '..', '.local', 'test-logs');
  const stack = await startLocalStack({ logDir, services: ['s3sqs', 'dynamodb', 'kinesis', 'opensearch'] });
  (globalThis as { __localStack?: unknown }).__localStack = stack;
  process.env.TAXI_STREAM_TEST_ENDPOINTS = JSON.stringify(stack.endpoints);
  Object.assign(process.env, stack.env());
}
