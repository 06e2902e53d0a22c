import path from 'node:path';
import { exportPath } from '../../../tools/demo/outputs';

describe('demo export paths', () => {
  const dir = path.resolve('/tmp/demo-out/lake');

  it('puts a lake object under the export folder by its key', () => {
    expect(exportPath(dir, 'lake/trips', 'lake/trips/year=2018/month=01/x.parquet')).toBe(
      path.join(dir, 'year=2018', 'month=01', 'x.parquet'),
    );
  });

  it.each([
    'lake/trips/../../../etc/passwd',
    'lake/trips/zone=x/../../../x.parquet',
    'lake/trips/..',
    'lake/trips//abs/../../../x',
  ])('refuses %j, which would be written outside it', (key) => {
    expect(() => exportPath(dir, 'lake/trips', key)).toThrow(/outside/);
  });
});
