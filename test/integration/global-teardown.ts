import type { LocalStack } from '../../tools/local-stack/local-stack';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __localStack?: LocalStack }).__localStack;
  await stack?.stop();
}
