import { InvalidReprocessRequestError, parseReprocessRequest } from '../../../lib/pipeline/reprocess-request';
import { parseReprocessArgs } from '../../../tools/reprocess/cli';

describe('reprocess request', () => {
  it('reads a range in any zone, with its optional source and stream', () => {
    expect(
      parseReprocessRequest({
        from: '2026-11-30T09:00:00Z',
        to: '2026-11-30T12:30:00+02:00',
        source: 'kafka',
        stream: 'trips',
      }),
    ).toEqual({
      fromMs: Date.UTC(2026, 10, 30, 9),
      toMs: Date.UTC(2026, 10, 30, 10, 30),
      kind: 'kafka',
      stream: 'trips',
    });
    expect(parseReprocessRequest({ from: '2026-11-30T09:00:00Z', to: '2026-11-30T09:00:01Z' })).toEqual({
      fromMs: Date.UTC(2026, 10, 30, 9),
      toMs: Date.UTC(2026, 10, 30, 9, 0, 1),
    });
  });

  it.each([
    [null, /not an object/],
    [{ to: '2026-11-30T09:00:00Z' }, /"from" is not an ISO 8601 time/],
    [
      { from: '2026-11-30T09:00:00', to: '2026-11-30T10:00:00Z' },
      /"from" is not an ISO 8601 time with its zone/,
    ],
    [{ from: '2026-11-30T10:00:00Z', to: '2026-11-30T09:00:00Z' }, /"to" is not after "from"/],
    [{ from: '2026-11-30T09:00:00Z', to: '2026-11-30T10:00:00Z', source: 'sqs' }, /"source" is neither/],
    [{ from: '2026-11-30T09:00:00Z', to: '2026-11-30T10:00:00Z', stream: '' }, /"stream" is not a name/],
  ])('refuses %j with a clear message', (event, message) => {
    expect(() => parseReprocessRequest(event)).toThrow(InvalidReprocessRequestError);
    expect(() => parseReprocessRequest(event)).toThrow(message);
  });

  it('takes the same range from the command line', () => {
    expect(
      parseReprocessArgs([
        '--from',
        '2026-11-30T09:00:00Z',
        '--to',
        '2026-11-30T10:00:00Z',
        '--source',
        'kinesis',
        '--json',
      ]),
    ).toEqual({
      range: { fromMs: Date.UTC(2026, 10, 30, 9), toMs: Date.UTC(2026, 10, 30, 10), kind: 'kinesis' },
      json: true,
    });
    expect(parseReprocessArgs(['--help'])).toBe('help');
    expect(() => parseReprocessArgs(['--from', '2026-11-30T09:00:00Z', '--until', 'x'])).toThrow(
      /unknown option --until/,
    );
  });
});
