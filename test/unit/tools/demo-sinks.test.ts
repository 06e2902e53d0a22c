import { DEFAULT_SINKS, parseSinks } from '../../../tools/demo/stream-sinks';

describe('demo --sinks', () => {
  it('defaults to the lake and search sinks and orders a list', () => {
    expect(DEFAULT_SINKS).toEqual(['lake', 'search']);
    expect(parseSinks('kinesis, search,lake,kafka')).toEqual(['lake', 'search', 'kafka', 'kinesis']);
  });

  it('refuses unknown sinks and lists without the lake or search', () => {
    expect(() => parseSinks('lake,search,s3')).toThrow(
      '--sinks takes a list of lake, search, kafka, kinesis',
    );
    expect(() => parseSinks(undefined)).toThrow('--sinks takes');
    expect(() => parseSinks('lake,kafka')).toThrow('--sinks must keep lake and search');
  });
});
