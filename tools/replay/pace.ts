import type { ReplayRecord } from './sources';

export interface Landed {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export type PublishBatch = (batch: readonly ReplayRecord[]) => Promise<Landed[]>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes records in order, paced by event time: a record whose event time is E is sent
 * (E - E0) / speedup after the start, E0 being the first record's event time. speedup 0
 * means as fast as possible. Batches hold at most `maxBatch` records that are due.
 */
export async function pacedReplay(
  records: readonly ReplayRecord[],
  publish: PublishBatch,
  options: { speedup: number; maxBatch?: number; onProgress?: (sent: number, lagMs: number) => void },
): Promise<Landed[]> {
  const maxBatch = options.maxBatch ?? 500;
  const landed: Landed[] = [];
  const firstEvent = records.find((r) => r.eventTimeMs > 0)?.eventTimeMs ?? 0;
  const startedAt = Date.now();
  const due = (r: ReplayRecord) => startedAt + Math.max(0, r.eventTimeMs - firstEvent) / options.speedup;
  let i = 0;
  while (i < records.length) {
    let end = i;
    if (options.speedup > 0) {
      const wait = due(records[i] as ReplayRecord) - Date.now();
      if (wait > 0) await sleep(Math.min(wait, 1_000));
      while (end < records.length && end - i < maxBatch && due(records[end] as ReplayRecord) <= Date.now())
        end++;
      if (end === i) continue;
    } else {
      end = Math.min(records.length, i + maxBatch);
    }
    landed.push(...(await publish(records.slice(i, end))));
    i = end;
    // Replay lag: how far behind schedule the last sent record went out.
    const lag = options.speedup > 0 ? Math.max(0, Date.now() - due(records[i - 1] as ReplayRecord)) : 0;
    options.onProgress?.(i, lag);
  }
  return landed;
}

/** A one-line progress bar on stderr (rewritten in place on a terminal, every 5 s otherwise). */
export function progressBar(total: number, label = 'replay'): (sent: number, lagMs: number) => void {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (sent, lagMs) => {
    const now = Date.now();
    if (sent < total && now - last < (tty ? 250 : 5_000)) return;
    last = now;
    const rate = Math.round(sent / Math.max(0.001, (now - started) / 1000));
    const pct = Math.floor((100 * sent) / Math.max(1, total));
    const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
    const line = `  ${label} [${bar}] ${pct}% ${sent.toLocaleString('en-US')}/${total.toLocaleString('en-US')} records, ${rate.toLocaleString('en-US')}/s, replay lag ${(lagMs / 1000).toFixed(1)} s`;
    process.stderr.write(tty ? `\r${line}   ${sent >= total ? '\n' : ''}` : `${line}\n`);
  };
}
