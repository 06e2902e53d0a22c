import { measureManyPartitions, measurePhases } from '../../../tools/bench/phases';
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
      'Arrow columns + IPC stream',
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

  it('times the many-partitions case: one object per pickup zone, and the fixed cost per object', () => {
    const payloads = syntheticRecords({ count: 400, seed: 3 }).map((r) => r.payload);
    const zones = new Set(payloads.map((p) => JSON.parse(p.toString()).pickup_location_id));
    const many = measureManyPartitions({ Records: shardRecords(payloads) }, 3);
    // The synthetic trips span one month, so the reference layout splits them by zone alone.
    expect({ objects: many.objects, defaultObjects: many.defaultObjects }).toEqual({
      objects: zones.size,
      defaultObjects: expect.any(Number),
    });
    expect(many.objects).toBeGreaterThan(50);
    expect(many.defaultObjects).toBeLessThan(many.objects);
    expect(many.phases.map((p) => p.name)).toEqual([
      'partition keys + grouping',
      'Arrow columns + IPC stream',
      'IPC into WebAssembly',
      'writer properties',
      'IPC into WebAssembly + Parquet write (Snappy)',
      'Parquet objects (as the lake sink encodes them)',
      'whole encode path (as encodeManyPartitionsPerSec)',
    ]);
    for (const p of many.phases)
      expect({ name: p.name, timed: p.ms > 0 }).toEqual({ name: p.name, timed: true });
    expect(Number.isFinite(many.perObjectMs)).toBe(true);
  });
});
