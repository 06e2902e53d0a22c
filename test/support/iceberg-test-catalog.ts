/**
 * Apache Iceberg's REST catalog for an integration test: built on first use, started over the
 * test stack's S3 emulator with its warehouse in `bucket`, its store in a temporary folder and
 * its log under .local/test-logs/<name>.log; `stop` stops it and removes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildIcebergLauncher,
  type IcebergCatalog,
  startIcebergCatalog,
} from '../../tools/iceberg/iceberg-catalog';
import { testEndpoints } from './local-pipeline';

const LOG_DIR = path.join(__dirname, '..', '..', '.local', 'test-logs');

export async function startTestCatalog(
  name: string,
  bucket: string,
): Promise<{ catalog: IcebergCatalog; stop: () => Promise<void> }> {
  await buildIcebergLauncher();
  const home = mkdtempSync(path.join(os.tmpdir(), `taxi-${name}-`));
  try {
    const catalog = await startIcebergCatalog({
      home,
      logFile: path.join(LOG_DIR, `${name}.log`),
      s3Endpoint: testEndpoints().s3sqs as string,
      warehouse: `s3://${bucket}/warehouse`,
    });
    return {
      catalog,
      stop: async () => {
        await catalog.stop();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
}
