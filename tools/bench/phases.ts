/**
 * npm run bench -- --phases: where the time of the encode path goes, per batch of 10,000
 * synthetic records (ms, median of repetitions after warm-up). Each phase is timed on its own
 * over the output of the one before, so the parts do not add up exactly to the whole (the
 * whole pays for the young-generation collection of rows that live until the write; the
 * "rows kept" line shows that cost).
 */

import { tableToIPC } from 'apache-arrow';
import type { KinesisStreamEvent } from 'aws-lambda';
import { Table as WasmTable, writeParquet } from 'parquet-wasm';
import { TripEnricher } from '../../lib/domain/enrich';
import { type DecodedEvent, TripDecoder } from '../../lib/domain/trip';
import { type LakeRow, toLakeRow } from '../../lib/lake/lake-row';
import { ParquetEncoder } from '../../lib/lake/parquet-encoder';
import { compilePartitionTemplate, DEFAULT_PARTITION_TEMPLATE } from '../../lib/lake/partitioning';
import { TripTransform } from '../../lib/pipeline/trip-transform';
import { decodeSourceEvent } from '../../lib/sources/decode-event';
import type { SourceRecord } from '../../lib/sources/source-record';

export interface Phase {
  readonly name: string;
  readonly ms: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
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
  const decoder = new TripDecoder();
  const enricher = new TripEnricher();
  const transform = new TripTransform(decoder, enricher);
  const partition = compilePartitionTemplate(DEFAULT_PARTITION_TEMPLATE);
  const encoder = new ParquetEncoder({ compression: 'snappy' });
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const records: SourceRecord[] = decodeSourceEvent(event);
  const texts = records.map((r) => utf8.decode(r.payload));
  const objects = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
  const rows: LakeRow[] = [];
  for (const r of records) {
    const out = transform.apply(r);
    if (out.kind === 'trip') rows.push(out.row);
  }
  const groups = (): LakeRow[][] => {
    const byKey = new Map<string, LakeRow[]>();
    for (const row of rows) {
      const key = partition(row);
      const list = byKey.get(key);
      if (list) list.push(row);
      else byKey.set(key, [row]);
    }
    return [...byKey.values()];
  };
  const parts = groups();
  const tables = parts.map((p) => encoder.toArrow(p));
  const ipcs = tables.map((t) => tableToIPC(t, 'stream'));

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
    phase('partition keys + grouping', groups),
    phase('Arrow columns', () => parts.map((p) => encoder.toArrow(p))),
    phase('Arrow IPC stream', () => tables.map((t) => tableToIPC(t, 'stream'))),
    phase('IPC into WebAssembly', () => {
      for (const ipc of ipcs) WasmTable.fromIPCStream(ipc).free();
    }),
    phase('IPC into WebAssembly + Parquet write (Snappy)', () => {
      for (const ipc of ipcs) writeParquet(WasmTable.fromIPCStream(ipc), encoder.writerProperties());
    }),
    phase('whole encode path, from the Kinesis event', () => {
      const kept: LakeRow[] = [];
      for (const r of decodeSourceEvent(event)) {
        const out = transform.apply(r);
        if (out.kind === 'trip') kept.push(out.row);
      }
      const byKey = new Map<string, LakeRow[]>();
      for (const row of kept) {
        const key = partition(row);
        const list = byKey.get(key);
        if (list) list.push(row);
        else byKey.set(key, [row]);
      }
      for (const list of byKey.values()) encoder.encode(list);
    }),
  ];
}
