import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LAKE_COLUMNS } from '../../lib/lake/schema';

const root = path.join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf-8');

describe('docs/lake.md', () => {
  it('documents the lake schema exactly as lib/lake/schema.ts defines it', () => {
    const page = read('docs/lake.md');
    const block = page.split('<!-- schema:start')[1]?.split('<!-- schema:end')[0] ?? '';
    const rows = block
      .split('\n')
      .filter((l) => l.startsWith('|') && !/^\|\s*column\b/.test(l) && !/^\|\s*-/.test(l))
      .map((l) =>
        l
          .split('|')
          .map((c) => c.trim())
          .slice(1, 5),
      );
    expect(rows).toEqual(LAKE_COLUMNS.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no', c.description]));
  });
});

describe('docs/configuration.md', () => {
  it('documents every environment variable lib/config.ts and lib/ read', () => {
    const config = read('lib/config.ts');
    const variables = new Set([
      // required(env, 'X'), integer(\n env,\n 'X', ...), env.X, env['X']
      ...[...config.matchAll(/\(\s*env,\s*'([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1] as string),
      ...[...config.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] as string),
      ...[...read('lib/observability/telemetry.ts').matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)].map(
        (m) => m[1] as string,
      ),
    ]);
    expect(variables.size).toBeGreaterThan(60);
    const page = read('docs/configuration.md');
    const missing = [...variables].filter((v) => !page.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});
