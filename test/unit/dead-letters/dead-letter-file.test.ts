import type { DeadLetterMessage } from '../../../lib/dead-letters/dead-letter';
import { filterDeadLetters, parseDeadLetterFile } from '../../../lib/dead-letters/dead-letter-file';
import { redriveKey } from '../../../lib/pipeline/dead-letter-redrive';

function letter(
  id: string,
  over: {
    reason?: string;
    arrival?: string | null;
    partition?: string;
    key?: string | null;
    keyChars?: number;
  } = {},
): DeadLetterMessage {
  return {
    version: 1,
    deadLetterId: id,
    reason: { errorClass: over.reason ?? 'NotJsonError', message: 'm', stage: 'decode', field: null },
    source: {
      kind: 'kinesis',
      stream: 'taxi-trips',
      partition: over.partition ?? 'shardId-000000000000',
      position: '1',
      partitionKey: over.key === undefined ? 'pk-1' : over.key,
      ...(over.keyChars === undefined ? {} : { partitionKeyChars: over.keyChars }),
      arrivalTime: over.arrival === undefined ? '2026-01-01T10:00:00.000Z' : over.arrival,
    },
    payload: { encoding: 'base64', bytes: 1, data: 'eA==' },
    function: { name: 'f', requestId: 'r' },
  } as unknown as DeadLetterMessage;
}

describe('dead-letter export files', () => {
  it('reads a file as a set by dead-letter ID and refuses lines that are not dead letters', () => {
    const a = JSON.stringify(letter('a'));
    const b = JSON.stringify(letter('b'));
    expect(parseDeadLetterFile(`${a}\n${b}\n${a}\n\n`).map((l) => l.deadLetterId)).toEqual(['a', 'b']);
    expect(() => parseDeadLetterFile(`${a}\n{oops\n`)).toThrow('line 2 is not JSON');
    expect(() => parseDeadLetterFile('{"x":1}\n')).toThrow('line 1 is not a dead letter');
  });

  it('filters by reason, arrival time (from inclusive, to exclusive), channel prefix and IDs', () => {
    const letters = [
      letter('a'),
      letter('b', { reason: 'InvalidTimestampError', arrival: '2026-01-01T11:00:00.000Z' }),
      letter('c', { partition: 'shardId-000000000001', arrival: '2026-01-01T12:00:00.000Z' }),
      letter('d', { arrival: null }),
    ];
    const ids = (filter: Parameters<typeof filterDeadLetters>[1]) =>
      filterDeadLetters(letters, filter).map((l) => l.deadLetterId);
    expect(ids({ reason: 'InvalidTimestampError' })).toEqual(['b']);
    expect(ids({ from: '2026-01-01T11:00:00Z', to: '2026-01-01T12:00:00Z' })).toEqual(['b']);
    expect(ids({ channel: 'kinesis/taxi-trips/shardId-000000000001' })).toEqual(['c']);
    expect(ids({ ids: new Set(['a', 'd']) })).toEqual(['a', 'd']);
    expect(() => ids({ from: 'yesterday' })).toThrow('--from and --to must be ISO 8601 times');
  });

  it('redrives with the original key, or the dead-letter ID when the key was cut or absent', () => {
    expect(redriveKey(letter('a'))).toBe('pk-1');
    expect(redriveKey(letter('a', { key: null }))).toBe('a');
    expect(redriveKey(letter('a', { key: 'k'.repeat(1000), keyChars: 5000 }))).toBe('a');
  });
});
