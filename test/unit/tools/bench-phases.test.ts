import { measurePhases } from '../../../tools/bench/phases';
import { syntheticRecords } from '../../../tools/replay/sources';
import { shardRecords } from '../../support/kinesis-events';

describe('npm run bench -- --phases', () => {
  it('times every phase of the encode path, from the floor to the whole', () => {
    const payloads = syntheticRecords({ count: 200, seed: 3 }).map((r) => r.payload);
    const phases = measurePhases({ Records: shardRecords(payloads) }, 3);
    expect(phases.map((p) => p.name)).toEqual([
      'floor: base64 + JSON.parse',
      'base64 alone',
      'Kinesis event -> records (with base64)',
      'UTF-8 check',
      'JSON.parse',
      'validation (parsed object -> trip)',
      'decode + enrich + lineage, rows dropped',
      'the same, rows kept until the end',
      'partition keys + grouping',
      'Arrow columns',
      'Arrow IPC stream',
      'IPC into WebAssembly',
      'IPC into WebAssembly + Parquet write (Snappy)',
      'whole encode path (as encodePerSec)',
    ]);
    for (const p of phases)
      expect({ name: p.name, timed: Number.isFinite(p.ms) && p.ms > 0 }).toEqual({
        name: p.name,
        timed: true,
      });
  });
});
