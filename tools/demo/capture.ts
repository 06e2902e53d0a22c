/**
 * The handlers write Powertools log lines and EMF metrics to stdout, as they do in Lambda.
 * In the demo they share the process with the report, so their JSON lines are diverted to a
 * file and the EMF metrics are summed for the report; everything else passes through.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export class HandlerOutputCapture {
  readonly metrics = new Map<string, { sum: number; max: number; count: number }>();
  logLines = 0;
  private readonly file: WriteStream;
  private readonly original: typeof process.stdout.write;
  private partial = '';

  constructor(path: string) {
    this.file = createWriteStream(path);
    this.original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf-8');
      if (!text.startsWith('{') && this.partial === '') {
        return (this.original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      }
      this.partial += text;
      let nl = this.partial.indexOf('\n');
      while (nl >= 0) {
        this.line(this.partial.slice(0, nl));
        this.partial = this.partial.slice(nl + 1);
        nl = this.partial.indexOf('\n');
      }
      return true;
    }) as typeof process.stdout.write;
  }

  /** Writes to the real stdout, bypassing the capture. */
  print(text: string): void {
    this.original(text);
  }

  private line(line: string): void {
    this.file.write(`${line}\n`);
    this.logLines++;
    try {
      const json = JSON.parse(line) as {
        _aws?: { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> };
      } & Record<string, unknown>;
      // Per function: both sinks emit RecordsIn, TripsValid... under their own service.
      const service = typeof json.service === 'string' ? json.service : 'unknown';
      for (const directive of json._aws?.CloudWatchMetrics ?? []) {
        for (const { Name } of directive.Metrics ?? []) {
          const value = json[Name];
          const values = Array.isArray(value) ? value : [value];
          const key = `${service}/${Name}`;
          const m = this.metrics.get(key) ?? { sum: 0, max: Number.NEGATIVE_INFINITY, count: 0 };
          for (const v of values) {
            if (typeof v !== 'number') continue;
            m.sum += v;
            m.max = Math.max(m.max, v);
            m.count++;
          }
          this.metrics.set(key, m);
        }
      }
    } catch {
      // not JSON after all: it is kept in the file as written
    }
  }

  async close(): Promise<void> {
    process.stdout.write = this.original;
    if (this.partial) this.line(this.partial);
    await new Promise<void>((resolve) => this.file.end(resolve));
  }
}
