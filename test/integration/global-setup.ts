import path from 'node:path';
import { type LocalService, type LocalStack, startLocalStack } from '../../tools/local-stack/local-stack';
import type { ServiceDiedError } from '../../tools/local-stack/service-watch';
import { children } from '../support/process-tree';

const ALL_SERVICES: readonly LocalService[] = ['s3sqs', 'dynamodb', 'kinesis', 'opensearch'];

/**
 * Ends the whole run when a service of the test stack dies. The stack lives in Jest's parent
 * process and Jest has no way for a global setup to cancel a run, while every test still
 * running or queued would otherwise wait out its own timeout against a closed port, one after
 * the other. So the parent says what died, stops the other services, ends its test workers
 * (separate processes that would run on alone; on two cores Jest runs the tests in the parent
 * itself) and exits 1. A marker file checked by the workers would catch the death only between
 * tests, not inside the one that hangs.
 */
export async function endRunOnDeath(
  stack: LocalStack,
  death: ServiceDiedError,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<void> {
  process.stderr.write(
    `\n\n${death.describe()}\nThe integration tests need it: stopping the other local services and ending the test run.\n`,
  );
  await stack.stop();
  for (const worker of children(process.pid)) {
    if (worker.args.includes('jest-worker')) process.kill(worker.pid, 'SIGTERM');
  }
  exit(1);
}

/** Starts the local services for the whole integration run; workers read the env. */
export async function startTestStack(
  services: readonly LocalService[] = ALL_SERVICES,
  logDir = path.join(__dirname, '..', '..', '.local', 'test-logs'),
): Promise<LocalStack> {
  const stack = await startLocalStack({ logDir, services });
  (globalThis as { __localStack?: unknown }).__localStack = stack;
  process.env.TAXI_STREAM_TEST_ENDPOINTS = JSON.stringify(stack.endpoints);
  Object.assign(process.env, stack.env());
  // The teardown's stop() marks every exit as expected, so this fires only for a real death.
  void stack.died.then((death) => endRunOnDeath(stack, death));
  return stack;
}

export default async function globalSetup(): Promise<void> {
  await startTestStack();
}
