import type { SourceKind } from '../sources/source-record';
import type { ReprocessRange } from './table-reprocessor';

/** The on-demand reprocess function's event is not a range it can run. */
export class InvalidReprocessRequestError extends Error {
  constructor(why: string) {
    super(
      `invalid reprocess request: ${why}; expected {"from": "<ISO time>", "to": "<ISO time>", "source"?: "kinesis"|"kafka", "stream"?: "<name>"}`,
    );
    this.name = 'InvalidReprocessRequestError';
  }
}

export function parseReprocessRequest(event: unknown): ReprocessRange {
  if (event === null || typeof event !== 'object') throw new InvalidReprocessRequestError('not an object');
  const e = event as Record<string, unknown>;
  const time = (name: 'from' | 'to'): number => {
    const v = e[name];
    const ms = typeof v === 'string' && /[zZ]|[+-]\d\d:?\d\d$/.test(v) ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(ms))
      throw new InvalidReprocessRequestError(`"${name}" is not an ISO 8601 time with its zone`);
    return ms;
  };
  const fromMs = time('from');
  const toMs = time('to');
  if (toMs <= fromMs) throw new InvalidReprocessRequestError('"to" is not after "from"');
  const source = e.source;
  if (source !== undefined && source !== 'kinesis' && source !== 'kafka')
    throw new InvalidReprocessRequestError('"source" is neither kinesis nor kafka');
  const stream = e.stream;
  if (stream !== undefined && (typeof stream !== 'string' || stream === ''))
    throw new InvalidReprocessRequestError('"stream" is not a name');
  return {
    fromMs,
    toMs,
    ...(source ? { kind: source as SourceKind } : {}),
    ...(stream ? { stream: stream as string } : {}),
  };
}
