import { grpc } from '@tracechat/protos';
import type { GetMessageRequest, GetMessageResponse__Output } from '@tracechat/protos';
import { HttpError } from '../src/http-errors';
import { MessageTraces } from '../src/message-trace';
import type { MessageTraceDeps } from '../src/message-trace';
import { deadUrl, fakeHttpServer } from './http-fakes';
import type { FakeServer } from './http-fakes';

const MESSAGE_ID = '0b5c9f0e-3f55-4f4e-9d4f-5a0c2b1e8d77';
const FOUND = '4bf92f3577b34da6a3ce929d0e0e4736';
const MISSING = '5bf92f3577b34da6a3ce929d0e0e4736';
const BROKEN = '6bf92f3577b34da6a3ce929d0e0e4736';
const SLOW = '7bf92f3577b34da6a3ce929d0e0e4736';
const NOW = Date.parse('2026-12-02T12:00:00Z');

const JAEGER_TRACE = { traceID: FOUND, spans: [{ spanID: '00f067aa0ba902b7' }], processes: {} };

function serviceError(code: grpc.status): Error {
  return Object.assign(new Error(`${code}`), {
    code,
    details: 'refused',
    metadata: new grpc.Metadata(),
  });
}

/** logic's GetMessage: `alice` may see the message, whose trace id and age the test chooses. */
function logic(traceId: string, ageMs: number, fail?: grpc.status): MessageTraceDeps['logic'] {
  return {
    async getMessage(req: GetMessageRequest): Promise<GetMessageResponse__Output> {
      if (fail !== undefined) throw serviceError(fail);
      if (req.userId !== 'alice') throw serviceError(grpc.status.NOT_FOUND);
      return {
        message: {
          messageId: MESSAGE_ID,
          sessionId: 'room',
          seq: 7,
          senderId: 'bob',
          text: '',
          sentAtMs: NOW - ageMs,
          traceId,
        },
      };
    },
  };
}

let jaeger: FakeServer;

beforeAll(async () => {
  jaeger = await fakeHttpServer((req, res) => {
    const id = req.url.split('/').pop();
    if (id === FOUND) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [JAEGER_TRACE], errors: null }));
    } else if (id === BROKEN) {
      res.writeHead(500).end('storage error');
    } else if (id === SLOW) {
      setTimeout(() => res.writeHead(404).end(), 500);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: null, errors: [{ code: 404, msg: 'trace not found' }] }));
    }
  });
});

afterAll(() => jaeger.close());

function traces(deps: Partial<MessageTraceDeps> & Pick<MessageTraceDeps, 'logic'>) {
  return new MessageTraces({
    jaegerQueryUrl: jaeger.url,
    jaegerUiUrl: undefined,
    pendingSeconds: 30,
    now: () => NOW,
    ...deps,
  });
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return { status: (err as HttpError).status, code: (err as HttpError).code };
  }
  throw new Error('expected a refusal');
}

describe('MessageTraces', () => {
  it('finds the trace Jaeger holds, with a link when a Jaeger UI is configured', async () => {
    const answer = await traces({
      logic: logic(FOUND, 1000),
      jaegerUiUrl: 'http://localhost:16686',
    }).lookup(MESSAGE_ID, 'alice');
    expect(answer).toEqual({
      status: 'found',
      message: {
        message_id: MESSAGE_ID,
        session: 'room',
        seq: 7,
        from: 'bob',
        sent_at: new Date(NOW - 1000).toISOString(),
        trace_id: FOUND,
      },
      trace: JAEGER_TRACE,
      jaeger_url: `http://localhost:16686/trace/${FOUND}`,
    });
    expect(jaeger.requests.at(-1)!.url).toBe(`/api/traces/${FOUND}`);
  });

  it('says pending while a message without a trace is younger than the window, not_sampled after', async () => {
    const young = await traces({ logic: logic(MISSING, 29_000) }).lookup(MESSAGE_ID, 'alice');
    expect(young).toMatchObject({ status: 'pending', jaeger_url: null });
    expect(young).not.toHaveProperty('trace');
    const old = await traces({ logic: logic(MISSING, 31_000) }).lookup(MESSAGE_ID, 'alice');
    expect(old).toMatchObject({ status: 'not_sampled' });
    // a message stored before traces were recorded has none to wait for
    const untraced = await traces({ logic: logic('', 0) }).lookup(MESSAGE_ID, 'alice');
    expect(untraced).toMatchObject({ status: 'not_sampled', message: { trace_id: '' } });
  });

  it('answers 404 for a non-member, an unknown or a malformed id, without asking Jaeger', async () => {
    const asked = jaeger.requests.length;
    const t = traces({ logic: logic(FOUND, 0) });
    expect(await refusal(t.lookup(MESSAGE_ID, 'mallory'))).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(await refusal(t.lookup('../../api/services', 'alice'))).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    const invalid = traces({ logic: logic(FOUND, 0, grpc.status.INVALID_ARGUMENT) });
    expect(await refusal(invalid.lookup(MESSAGE_ID, 'alice'))).toMatchObject({ status: 404 });
    expect(jaeger.requests.length).toBe(asked);
  });

  it('answers 503 when Jaeger is down, failing or slow, and when logic is unavailable', async () => {
    const down = traces({ logic: logic(FOUND, 0), jaegerQueryUrl: await deadUrl() });
    expect(await refusal(down.lookup(MESSAGE_ID, 'alice'))).toEqual({
      status: 503,
      code: 'UNAVAILABLE',
    });
    const failing = traces({ logic: logic(BROKEN, 0) });
    expect(await refusal(failing.lookup(MESSAGE_ID, 'alice'))).toMatchObject({ status: 503 });
    const slow = traces({ logic: logic(SLOW, 0), timeoutMs: 100 });
    expect(await refusal(slow.lookup(MESSAGE_ID, 'alice'))).toMatchObject({ status: 503 });
    const noLogic = traces({ logic: logic(FOUND, 0, grpc.status.UNAVAILABLE) });
    expect(await refusal(noLogic.lookup(MESSAGE_ID, 'alice'))).toMatchObject({ status: 503 });
  });
});
