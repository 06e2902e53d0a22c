import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LAKE_COLUMNS } from '../../lib/lake/schema';

describe('README', () => {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf-8');

  it('documents the lake schema exactly as lib/lake/schema.ts defines it', () => {
    const block = readme.split('<!-- schema:start')[1]?.split('<!-- schema:end')[0] ?? '';
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

  it('documents every configuration variable the lake sink reads', () => {
    const source = readFileSync(path.join(__dirname, '..', '..', 'lib', 'config.ts'), 'utf-8');
    const variables = new Set([...source.matchAll(/\(env, '([A-Z0-9_]+)'/g)].map((m) => m[1] as string));
    expect(variables.size).toBeGreaterThan(15);
    const missing = [...variables].filter(
      (v) => !readme.includes(`\`${v}\``) && v !== 'AWS_DEFAULT_REGION' && !v.startsWith('AWS_LAMBDA_'),
    );
    expect(missing).toEqual([]);
  });
});
