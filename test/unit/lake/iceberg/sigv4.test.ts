import { sigv4Signer } from '../../../../lib/lake/iceberg/sigv4';

// The AWS Signature Version 4 test suite's credentials and time ("get-vanilla").
const sign = sigv4Signer({
  region: 'us-east-1',
  service: 'service' as never,
  credentials: async () => ({
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  }),
  now: () => new Date('2015-08-30T12:36:00Z'),
});

describe('SigV4 for the REST catalog', () => {
  it('signs the test suite’s get-vanilla request to its published signature', async () => {
    expect(await sign({ method: 'GET', url: 'https://example.amazonaws.com/', headers: {} })).toEqual({
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });

  it('signs the body and the query, so a changed commit request is refused', async () => {
    const request = {
      method: 'POST',
      url: 'https://glue.us-east-1.amazonaws.com/iceberg/v1/catalogs/123/namespaces/ns/tables/t',
      headers: { 'content-type': 'application/json' },
      body: '{"requirements":[]}',
    };
    const a = await sign(request);
    expect(a.authorization).toContain('SignedHeaders=content-type;host;x-amz-date');
    expect((await sign({ ...request, body: '{"requirements":[1]}' })).authorization).not.toBe(
      a.authorization,
    );
    expect((await sign({ ...request, url: `${request.url}?x=1` })).authorization).not.toBe(a.authorization);
  });
});
