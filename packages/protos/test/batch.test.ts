import { SpanKind, currentTraceId, withSpan } from '@tracechat/telemetry';
import { startTestTracing } from '@tracechat/telemetry/testing';
import type { TestTracing } from '@tracechat/telemetry/testing';
import {
  BatchCallError,
  CallBatcher,
  RpcError,
  Status,
  batchHandler,
  batchedCalls,
  bindServer,
  grpc,
  isServiceError,
  stopServer,
  tracechatV1,
} from '../src';
import type {
  DeliverRequest,
  DeliverRequest__Output,
  DeliverResponse__Output,
  PushServiceClient,
  PushServiceHandlers,
} from '../src';

let tracing: TestTracing;
let server: grpc.Server;
let client: PushServiceClient;
/** RPCs the server received, and the calls in each. */
const rpcs: number[] = [];
/** Trace id each call ran under on the server. */
const seenTraces = new Map<string, string>();
const order: string[] = [];

beforeAll(async () => {
  tracing = startTestTracing();
  server = new grpc.Server();
  const handle = async (req: DeliverRequest__Output) => {
    const id = req.excludeConnectionId;
    order.push(id);
    seenTraces.set(id, currentTraceId() ?? '');
    if (id.startsWith('refuse')) throw new RpcError(Status.PERMISSION_DENIED, `no: ${id}`);
    if (id.startsWith('crash')) throw new Error('secret detail');
    return { connections: req.userIds.length };
  };
  const handler = batchHandler(handle, {
    mapError: (err) => err,
    onInternalError: () => undefined,
    sequential: true,
  });
  const handlers: PushServiceHandlers = {
    Deliver: () => undefined,
    DeliverBatch: (call, callback) => {
      rpcs.push(call.request.calls.length);
      handler(call, callback);
    },
  };
  server.addService(tracechatV1().PushService.service, handlers);
  const port = await bindServer(server, '127.0.0.1:0');
  client = new (tracechatV1().PushService)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await stopServer(server);
  await tracing.shutdown();
});

beforeEach(() => {
  rpcs.length = 0;
  seenTraces.clear();
  order.length = 0;
});

const batcher = (maxCalls?: number) =>
  batchedCalls<DeliverRequest, DeliverResponse__Output>(
    client,
    client.DeliverBatch,
    5000,
    maxCalls,
  );

const call = (id: string, users = 1): DeliverRequest => ({
  message: { messageId: id, sessionId: 's' },
  userIds: Array.from({ length: users }, (_, i) => `u${i}`),
  excludeConnectionId: id,
});

describe('batched calls', () => {
  it('sends the calls of one turn in one RPC, in order, each with its own result', async () => {
    const b = batcher();
    const results = await Promise.all([
      b.call(call('a', 1)),
      b.call(call('b', 2)),
      b.call(call('c', 3)),
    ]);
    expect(results.map((r) => r.connections)).toEqual([1, 2, 3]);
    expect(rpcs).toEqual([3]);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('continues each call in its own caller trace on the server', async () => {
    const b = batcher();
    const callers: string[] = [];
    await Promise.all(
      ['x', 'y'].map((id) =>
        withSpan(`caller ${id}`, { kind: SpanKind.CLIENT }, async (span) => {
          callers.push(span.spanContext().traceId);
          await b.call(call(id));
        }),
      ),
    );
    expect(rpcs).toEqual([2]);
    expect(callers[0]).not.toEqual(callers[1]);
    expect(seenTraces.get('x')).toBe(callers[0]);
    expect(seenTraces.get('y')).toBe(callers[1]);
  });

  it('fails only the calls that failed, with their status, and hides internal errors', async () => {
    const b = batcher();
    const settled = await Promise.allSettled([
      b.call(call('ok')),
      b.call(call('refuse-1')),
      b.call(call('crash-1')),
    ]);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { connections: 1 } });
    const refused = (settled[1] as PromiseRejectedResult).reason;
    expect(isServiceError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: Status.PERMISSION_DENIED, details: 'no: refuse-1' });
    const crashed = (settled[2] as PromiseRejectedResult).reason as BatchCallError;
    expect(crashed.code).toBe(Status.INTERNAL);
    expect(crashed.details).not.toContain('secret');
  });

  it('splits at the batch limit and fails every call of an RPC that fails as a whole', async () => {
    const small = batcher(2);
    await Promise.all(['1', '2', '3', '4', '5'].map((id) => small.call(call(id))));
    expect(rpcs).toEqual([2, 2, 1]);

    const down = new CallBatcher<DeliverRequest, DeliverResponse__Output>(async () => {
      throw Object.assign(new Error('14 UNAVAILABLE: gone'), {
        code: Status.UNAVAILABLE,
        details: 'gone',
      });
    });
    const errors = await Promise.allSettled([down.call(call('p')), down.call(call('q'))]);
    const reasons = errors.map((e) => (e as PromiseRejectedResult).reason as BatchCallError);
    expect(reasons.map((r) => r.code)).toEqual([Status.UNAVAILABLE, Status.UNAVAILABLE]);
    expect(reasons[0]).not.toBe(reasons[1]);
  });
});
