/**
 * npm run bench -- --phases: where the time of the encode path goes, per batch of 10,000
 * synthetic records (ms, median of repetitions after warm-up). Each phase is timed on its own
 * over the output of the one before, so the parts do not add up exactly to the whole: garbage
 * collection lands wherever the heap happens to fill.
 */

import type { KinesisStreamEvent } from 'aws-lambda';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { TripEnricher } from '../../lib/domain/enrich';
import { type DecodedEvent, TripDecoder } from '../../lib/domain/trip';
import { type LakeRow, toLakeRow } from '../../lib/lake/lake-row';
import { ParquetEncoder } from '../../lib/lake/parquet-encoder';
import {
  compilePartitionTemplate,
  DEFAULT_PARTITION_TEMPLATE,
  REFERENCE_PARTITION_TEMPLATE,
} from '../../lib/lake/partitioning';
import { TripTransform } from '../../lib/pipeline/trip-transform';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import type { SourceRecord } from '../../lib/sources/source-record';

/**
 * The CPU-only encode path that encodePerSec measures (encodeManyPartitionsPerSec with the
 * reference Flink layout, `template` = REFERENCE_PARTITION_TEMPLATE), shared by the bench and
 * the phases.
 */
export function encodePath(template: string = DEFAULT_PARTITION_TEMPLATE) {
  const transform = new TripTransform(new TripDecoder(), new TripEnricher());
  const partition = compilePartitionTemplate(template);
  const encoder = new ParquetEncoder({ compression: 'snappy' });
  const lakeRows = (event: KinesisStreamEvent): LakeRow[] =>
    decodeSourceEvent(event).flatMap((r) => {
      const out = transform.apply(r);
      return out.kind === 'trip' ? [out.row] : [];
    });
  /** Rows grouped by partition key, one group per Parquet object (as the lake sink does). */
  const byPartition = (rows: readonly LakeRow[]): LakeRow[][] => {
    const groups = new Map<string, LakeRow[]>();
    for (const row of rows) {
      const key = partition(row);
      const list = groups.get(key);
      if (list) list.push(row);
      else groups.set(key, [row]);
    }
    return [...groups.values()];
  };
  return {
    transform,
    encoder,
    lakeRows,
    byPartition,
    /** decode -> validate -> enrich -> partition -> one Parquet object per partition. */
    encode(event: KinesisStreamEvent): void {
      for (const rows of byPartition(lakeRows(event))) encoder.encode(rows);
    },
  };
}

export interface Phase {
  readonly name: string;
  readonly ms: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Milliseconds of one call of `run`: warm-up, then the median of `repetitions`. */
function time(run: () => unknown, repetitions: number): number {
  for (let i = 0; i < 3; i++) run();
  const times: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const t0 = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

export function measurePhases(event: KinesisStreamEvent, repetitions = 21): Phase[] {
  const pipeline = encodePath();
  const { encoder } = pipeline;
  const decoder = new TripDecoder();
  const enricher = new TripEnricher();
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const records: SourceRecord[] = decodeSourceEvent(event);
  const texts = records.map((r) => utf8.decode(r.payload));
  const objects = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
  const rows = pipeline.lakeRows(event);
  const parts = pipeline.byPartition(rows);
  const ipcs = parts.map((p) => encoder.toIPC(p));

  const phase = (name: string, run: () => unknown): Phase => ({ name, ms: time(run, repetitions) });
  return [
    phase('floor: base64 + JSON.parse', () => {
      for (const r of event.Records) JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf-8'));
    }),
    phase('base64 alone', () => {
      for (const r of event.Records) Buffer.from(r.kinesis.data, 'base64');
    }),
    phase('Kinesis event -> records (with base64)', () => decodeSourceEvent(event)),
    phase('UTF-8 check', () => {
      for (const r of records) utf8.decode(r.payload);
    }),
    phase('JSON.parse', () => {
      for (const t of texts) JSON.parse(t);
    }),
    phase('validation (parsed object -> trip)', () => {
      for (let i = 0; i < objects.length; i++)
        decoder.decodeObject(
          objects[i] as Record<string, unknown>,
          (records[i] as SourceRecord).arrivalTimeMs,
        );
    }),
    phase('decode + enrich + lineage, rows dropped', () => {
      for (const r of records) {
        const out: DecodedEvent = decoder.decode(r.payload, r.arrivalTimeMs);
        if (out.kind === 'trip') toLakeRow(enricher.enrich(out.trip), r);
      }
    }),
    phase('the same, rows kept until the end', () => {
      const kept: LakeRow[] = [];
      for (const r of records) {
        const out: DecodedEvent = decoder.decode(r.payload, r.arrivalTimeMs);
        if (out.kind === 'trip') kept.push(toLakeRow(enricher.enrich(out.trip), r));
      }
      return kept;
    }),
    phase('partition keys + grouping', () => pipeline.byPartition(rows)),
    phase('Arrow columns + IPC stream', () => parts.map((p) => encoder.toIPC(p))),
    phase('IPC into WebAssembly', () => {
      for (const ipc of ipcs) WasmTable.fromIPCStream(ipc).free();
    }),
    phase('IPC into WebAssembly + Parquet write (Snappy)', () => {
      for (let i = 0; i < parts.length; i++)
        writeParquet(
          WasmTable.fromIPCStream(ipcs[i] as Uint8Array),
          encoder.writerProperties((parts[i] as LakeRow[]).length),
        );
    }),
    phase('whole encode path (as encodePerSec)', () => pipeline.encode(event)),
  ];
}

export interface ManyPartitions {
  /** Parquet objects one batch becomes with the reference layout. */
  readonly objects: number;
  /** Objects with the default layout, for the fixed cost per object below. */
  readonly defaultObjects: number;
  readonly phases: readonly Phase[];
  /**
   * ms per extra object: (whole path, reference layout - whole path, default layout) /
   * (objects - default objects), the cost that does not grow with rows.
   */
  readonly perObjectMs: number;
}

/**
 * The encode path with the reference Flink layout (`pickup_location=.../year=.../month=...`),
 * where a batch of 10,000 becomes one object per pickup zone (about 260 of the 263): the
 * writer's phases over all of a batch's objects, and the fixed cost per object.
 */
export function measureManyPartitions(event: KinesisStreamEvent, repetitions = 21): ManyPartitions {
  const many = encodePath(REFERENCE_PARTITION_TEMPLATE);
  const few = encodePath();
  const { encoder } = many;
  const rows = many.lakeRows(event);
  const parts = many.byPartition(rows);
  const ipcs = parts.map((p) => encoder.toIPC(p));
  const phase = (name: string, run: () => unknown): Phase => ({ name, ms: time(run, repetitions) });
  const whole = phase('whole encode path (as encodeManyPartitionsPerSec)', () => many.encode(event));
  const defaultWhole = time(() => few.encode(event), repetitions);
  const defaultObjects = few.byPartition(few.lakeRows(event)).length;
  const phases = [
    phase('partition keys + grouping', () => many.byPartition(rows)),
    phase('Arrow columns + IPC stream', () => parts.map((p) => encoder.toIPC(p))),
    phase('IPC into WebAssembly', () => {
      for (const ipc of ipcs) WasmTable.fromIPCStream(ipc).free();
    }),
    phase('writer properties', () => {
      for (const p of parts) encoder.writerProperties(p.length).free();
    }),
    phase('IPC into WebAssembly + Parquet write (Snappy)', () => {
      for (let i = 0; i < parts.length; i++)
        writeParquet(
          WasmTable.fromIPCStream(ipcs[i] as Uint8Array),
          encoder.writerProperties((parts[i] as LakeRow[]).length),
        );
    }),
    phase('Parquet objects (as the lake sink encodes them)', () => parts.map((p) => encoder.encode(p))),
    whole,
  ];
  return {
    objects: parts.length,
    defaultObjects,
    phases,
    perObjectMs: (whole.ms - defaultWhole) / Math.max(1, parts.length - defaultObjects),
  };
}
