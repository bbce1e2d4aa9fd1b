import {
  SERVICE_TOKEN_SKEW_SECONDS,
  ServiceTokenError,
  ServiceTokenVerifier,
  ServiceTokens,
  Status,
  bindServer,
  callerIdentity,
  grpc,
  internalClientOptions,
  internalServer,
  signServiceToken,
  stopServer,
  tracechatV1,
  unary,
  verifyServiceToken,
} from '../src';
import type {
  DeliverRequest,
  DeliverResponse__Output,
  PushServiceClient,
  PushServiceHandlers,
  RpcRefusal,
  ServiceIdentity,
} from '../src';

const SECRET = 'the-service-secret-of-these-tests-0123456789';
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceTokenError) return err.reason;
    throw err;
  }
  return undefined;
}

describe('service tokens', () => {
  it('carry issuer, audience, service, node and a 120 s life, and verify to the identity', () => {
    const token = signServiceToken({ service: 'journal', node: 'journal-1' }, SECRET, NOW);
    expect(payloadOf(token)).toEqual({
      iss: 'tracechat',
      aud: 'tracechat-internal',
      sub: 'journal',
      node: 'journal-1',
      iat: NOW / 1000,
      exp: NOW / 1000 + 120,
    });
    expect(verifyServiceToken(token, SECRET, NOW).identity).toEqual({
      service: 'journal',
      node: 'journal-1',
    });
    expect(
      verifyServiceToken(signServiceToken({ service: 'logic' }, SECRET, NOW), SECRET, NOW),
    ).toMatchObject({ identity: { service: 'logic' } });
  });

  it(`are accepted up to ${SERVICE_TOKEN_SKEW_SECONDS} s after they expire, and refused after`, () => {
    const token = signServiceToken({ service: 'task' }, SECRET, NOW);
    const expiry = NOW + 120_000;
    expect(verifyServiceToken(token, SECRET, expiry + 30_000).identity.service).toBe('task');
    expect(reasonOf(() => verifyServiceToken(token, SECRET, expiry + 31_000))).toBe('expired');
    // a clock 30 s behind the minter's still takes a fresh token; one further behind does not
    expect(verifyServiceToken(token, SECRET, NOW - 30_000).identity.service).toBe('task');
    expect(reasonOf(() => verifyServiceToken(token, SECRET, NOW - 31_000))).toBe('not_yet_valid');
  });

  it.each([
    [
      'another secret',
      () => signServiceToken({ service: 'logic' }, 'x'.repeat(40), NOW),
      'bad_signature',
    ],
    [
      'another audience',
      () => signServiceToken({ service: 'logic' }, SECRET, NOW, 120, { aud: 'someone-else' }),
      'wrong_audience',
    ],
    [
      'another issuer',
      () => signServiceToken({ service: 'logic' }, SECRET, NOW, 120, { iss: 'evil' }),
      'wrong_issuer',
    ],
    [
      'an unknown service',
      () => signServiceToken({ service: 'logic' }, SECRET, NOW, 120, { sub: 'mallory' }),
      'unknown_service',
    ],
    [
      'a life of a day',
      () => signServiceToken({ service: 'logic' }, SECRET, NOW, 86_400),
      'too_long_lived',
    ],
    [
      'no exp',
      () => signServiceToken({ service: 'logic' }, SECRET, NOW, 120, { exp: undefined }),
      'malformed',
    ],
    [
      'an empty node',
      () => signServiceToken({ service: 'journal' }, SECRET, NOW, 120, { node: '' }),
      'malformed',
    ],
    [
      'alg none',
      () => {
        const [, payload] = signServiceToken({ service: 'logic' }, SECRET, NOW).split('.');
        return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      },
      'malformed',
    ],
    ['garbage', () => 'not-a-token', 'malformed'],
  ])('refuse a token with %s', (_what, make, reason) => {
    expect(reasonOf(() => verifyServiceToken(make(), SECRET, NOW))).toBe(reason);
  });

  it('are minted once and again only when less than 60 s remain', () => {
    let now = NOW;
    const tokens = new ServiceTokens({ service: 'gateway' }, SECRET, () => now);
    const first = tokens.token();
    now += 59_000;
    expect(tokens.token()).toBe(first);
    now += 1_000;
    const second = tokens.token();
    expect(second).not.toBe(first);
    expect(payloadOf(second).iat).toBe(NOW / 1000 + 60);
    // every token handed out is valid for at least 60 s more
    expect(verifyServiceToken(second, SECRET, now + 60_000).identity.service).toBe('gateway');
  });
});

describe('ServiceTokenVerifier', () => {
  it('remembers verified tokens (bounded), and refuses a remembered one once it expired', () => {
    const verifier = new ServiceTokenVerifier(SECRET, 2);
    const tokens = ['logic', 'task', 'gateway'].map((service) =>
      signServiceToken({ service } as ServiceIdentity, SECRET, NOW),
    );
    for (const token of tokens) verifier.verify(token, NOW);
    expect(verifier.size).toBe(2);
    expect(verifier.verify(tokens[2]!, NOW + 1000)).toEqual({ service: 'gateway' });
    expect(reasonOf(() => verifier.verify(tokens[2]!, NOW + 151_000))).toBe('expired');
    expect(reasonOf(() => verifier.verify(tokens[2]!.slice(0, -2), NOW))).toBe('bad_signature');
  });
});

describe('an internal server', () => {
  let server: grpc.Server;
  let address: string;
  const refusals: RpcRefusal[] = [];
  const callers: (ServiceIdentity | undefined)[] = [];
  const clients: grpc.Client[] = [];

  /** A bidi echo service (no RPC of tracechat streams yet; the interceptors do not care). */
  const ECHO = {
    Echo: {
      path: '/test.Echo/Echo',
      requestStream: true,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  } satisfies grpc.ServiceDefinition;

  beforeAll(async () => {
    server = internalServer({
      secret: SECRET,
      onRefused: (refusal) => refusals.push(refusal),
      callers: { 'tracechat.v1.PushService': ['task'], 'test.Echo': ['task'] },
    });
    const handlers: PushServiceHandlers = {
      Deliver: (call, callback) => {
        callers.push(callerIdentity(call));
        callback(null, { connections: 1 });
      },
      DeliverBatch: (_call, callback) => callback(null, { results: [] }),
    };
    server.addService(tracechatV1().PushService.service, handlers);
    server.addService(ECHO, {
      Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        callers.push(callerIdentity(call));
        call.on('data', (b: Buffer) => call.write(b));
        call.on('end', () => call.end());
      },
    });
    address = `127.0.0.1:${await bindServer(server, '127.0.0.1:0')}`;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await stopServer(server);
  });

  beforeEach(() => {
    refusals.length = 0;
    callers.length = 0;
  });

  function push(options: grpc.ClientOptions = {}): PushServiceClient {
    const client = new (tracechatV1().PushService)(
      address,
      grpc.credentials.createInsecure(),
      options,
    );
    clients.push(client);
    return client;
  }
  const deliver = (client: PushServiceClient, metadata?: grpc.Metadata) =>
    unary<DeliverRequest, DeliverResponse__Output>(client, client.Deliver, {}, 5000, metadata);
  const as = (identity: ServiceIdentity) =>
    internalClientOptions(new ServiceTokens(identity, SECRET));

  it('serves an allowed service and tells the handler who called', async () => {
    expect(await deliver(push(as({ service: 'task' })))).toEqual({ connections: 1 });
    expect(callers).toEqual([{ service: 'task' }]);
    expect(refusals).toEqual([]);
  });

  it('sends the token on streaming calls too', async () => {
    const Echo = grpc.makeGenericClientConstructor(ECHO, 'Echo');
    const client = new Echo(
      address,
      grpc.credentials.createInsecure(),
      as({ service: 'task' }),
    ) as unknown as grpc.Client & {
      Echo(): grpc.ClientDuplexStream<Buffer, Buffer>;
    };
    clients.push(client);
    const stream = client.Echo();
    const echoed = new Promise<string>((resolve, reject) => {
      stream.on('data', (b: Buffer) => resolve(b.toString()));
      stream.on('error', reject);
    });
    stream.write(Buffer.from('hello'));
    expect(await echoed).toBe('hello');
    stream.end();
    expect(callers).toEqual([{ service: 'task' }]);
  });

  it.each([
    ['no token', () => push(), undefined, 'missing'],
    [
      'a token of another secret',
      () => push(internalClientOptions(new ServiceTokens({ service: 'task' }, 'y'.repeat(40)))),
      undefined,
      'bad_signature',
    ],
    [
      'an expired token',
      () => push(),
      signServiceToken({ service: 'task' }, SECRET, Date.now() - 200_000),
      'expired',
    ],
    ['a token that is not Bearer', () => push(), 'Basic abc', 'missing'],
  ])(
    'refuses a call with %s: UNAUTHENTICATED, reported without the token',
    async (_what, client, auth, reason) => {
      const metadata = new grpc.Metadata();
      if (auth) metadata.set('authorization', auth.startsWith('Basic') ? auth : `Bearer ${auth}`);
      await expect(deliver(client(), metadata)).rejects.toMatchObject({
        code: Status.UNAUTHENTICATED,
        details: expect.stringMatching(/service token/),
      });
      expect(callers).toEqual([]);
      expect(refusals).toEqual([
        {
          code: Status.UNAUTHENTICATED,
          reason,
          service: 'tracechat.v1.PushService',
          method: 'Deliver',
          peer: expect.stringMatching(/^(ipv4:)?127\.0\.0\.1:\d+$/),
        },
      ]);
      expect(JSON.stringify(refusals)).not.toMatch(/eyJ/);
    },
  );

  it('refuses a valid identity that may not call this service: PERMISSION_DENIED', async () => {
    await expect(deliver(push(as({ service: 'logic' })))).rejects.toMatchObject({
      code: Status.PERMISSION_DENIED,
      details: 'logic may not call tracechat.v1.PushService',
    });
    expect(refusals).toMatchObject([
      { code: Status.PERMISSION_DENIED, reason: 'service_not_allowed', caller: 'logic' },
    ]);
    expect(callers).toEqual([]);
  });
});
