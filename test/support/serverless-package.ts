/** `serverless package` offline, the template it writes, and cfn-lint on that template. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.join(__dirname, '..', '..');
const SERVERLESS = path.join(ROOT, 'node_modules', '.bin', 'serverless');
const CFN_LINT_CONFIG = path.join(ROOT, 'tools', 'serverless', 'cfn-lint.yaml');

export type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Condition?: string;
};
export interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, unknown>;
}

/**
 * Runs the osls CLI in `cwd` without any AWS credentials or region: none from the environment,
 * and no shared credentials or config files either.
 */
export async function sls(args: string[], cwd = ROOT): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete env[k];
  env.AWS_SHARED_CREDENTIALS_FILE = path.join(ROOT, 'no-such-aws-credentials');
  env.AWS_CONFIG_FILE = path.join(ROOT, 'no-such-aws-config');
  try {
    const out = await run(SERVERLESS, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: out.stdout + out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export function readTemplate(dir: string): Template {
  return JSON.parse(readFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf-8'));
}

/**
 * cfn-lint (Python, on PATH) with the repository's configuration: its findings, one per line,
 * empty when the template is clean.
 */
export async function cfnLint(templateDir: string): Promise<string> {
  const template = path.join(templateDir, 'cloudformation-template-update-stack.json');
  try {
    await run('cfn-lint', ['--config-file', CFN_LINT_CONFIG, template], { maxBuffer: 16 * 1024 * 1024 });
    return '';
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        'cfn-lint is not on PATH: install the Python package (pip install cfn-lint); the npm packages of that name carry 2019 specs',
      );
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || `cfn-lint exited with ${e.code}`;
  }
}

/**
 * A test file's packages: a temporary directory (removed after the file's tests), `serverless
 * package` into a named directory under it, and the cfn-lint test each packaged stack gets.
 */
export function packages(prefix: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** `serverless package --package <dir>/<name> ...args`, whatever its outcome. */
  const packageResult = (name: string, args: string[]) =>
    sls(['package', '--package', path.join(dir, name), ...args]);
  return {
    dir,
    packageResult,
    /** Packages into `name`, which must succeed, and returns the template. */
    async packageStack(name: string, args: string[]): Promise<Template> {
      const result = await packageResult(name, args);
      expect(result.output).toContain('Service packaged');
      expect(result.code).toBe(0);
      return readTemplate(path.join(dir, name));
    },
    /** The test, in the enclosing describe, that cfn-lint finds the template packaged into `name` clean. */
    itIsCleanForCfnLint(name: string): void {
      it('is clean for cfn-lint', async () => {
        expect(await cfnLint(path.join(dir, name))).toBe('');
      });
    },
  };
}
