/**
 * Property-based fuzzing of the internal gRPC services (PushService on both gateways, logic's
 * ChatService, PlacementService, JournalService on both nodes): every method gets malformed
 * protobuf bytes (random bytes, truncated messages, wrong wire types, huge length prefixes,
 * overlong varints, deep groups, strings and bytes of megabytes) and valid messages with values
 * out of every range. Each call must end with a status before its deadline, no process may exit,
 * and chat must work afterwards.
 *
 * FUZZ_SEED=<n> replays a run; fast-check prints the seed and the failing body of each method.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { grpc, SERVICE_CALLERS, tracechatV1 } from '@tracechat/protos';
import type { ServiceName as Caller, ServiceTokens } from '@tracechat/protos';
import { setup } from '@tracechat/testkit';
import type { TestStack } from '@tracechat/testkit';
import { chatPair } from './chat-pair';
import { bodyOf } from './fuzz-protobuf';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CALLS_PER_METHOD = 120;
const DEADLINE_MS = 4000;
/** Past the deadline, the client gives up on its own: a call without a status by then hangs. */
const HANG_MS = DEADLINE_MS + 3000;

/**
 * Metadata of every fuzzing call: what an internal caller of the stack sends (its service
 * identity, once the services ask for one), so the bodies reach the handlers.
 */
function serviceMetadata(path: string): grpc.Metadata {
  // '/tracechat.v1.PushService/Deliver' → the callers that service admits; operator tools ('cli')
  // where they may, else the service that calls it in the stack
  const callers = SERVICE_CALLERS[path.split('/')[1] ?? ''] ?? [];
  const service = callers.includes('cli') ? 'cli' : callers[0];
  if (!service) throw new Error(`no caller may call ${path}`);
  let tokens = tokensByService.get(service);
  if (!tokens) {
    tokens = stack.serviceTokens({ service });
    tokensByService.set(service, tokens);
  }
  return tokens.metadata();
}

const tokensByService = new Map<Caller, ServiceTokens>();

let stack: TestStack;
const pidsAtStart = new Map<string, number | undefined>();

beforeAll(async () => {
  stack = await setup();
  for (const [name, proc] of stack.processes) pidsAtStart.set(name, proc.pid);
}, 300_000);

afterAll(async () => {
  await stack?.cleanup();
});

interface MethodDefinition {
  readonly path: string;
  readonly requestSerialize: (value: object) => Buffer;
  readonly requestType: { readonly type: { readonly name: string } };
}

type ServiceName = 'PushService' | 'ChatService' | 'PlacementService' | 'JournalService';

function methodsOf(service: ServiceName): [string, MethodDefinition][] {
  const definition = tracechatV1()[service].service as unknown as Record<string, MethodDefinition>;
  return Object.entries(definition);
}

/** Calls a method with the given bytes as its request; resolves with the status code. */
function call(
  client: grpc.Client,
  path: string,
  body: Buffer,
): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve, reject) => {
    let ended = false;
    // a status already on its way (this process was busy) is not a hang: look once more after I/O
    const hang = setTimeout(
      () => setImmediate(() => ended || reject(new Error(`no status after ${HANG_MS} ms`))),
      HANG_MS,
    );
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      serviceMetadata(path),
      { deadline: Date.now() + DEADLINE_MS },
      (err) => {
        ended = true;
        clearTimeout(hang);
        resolve(
          err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' },
        );
      },
    );
  });
}

describe('gRPC fuzzing', () => {
  it.each([
    ['a message_id that is not a UUID', { messageId: 'x'.repeat(1025) }],
    ['a session_id no session can have', { sessionId: 'a.b' }],
    ['a sender_id no user can have', { senderId: 'a b' }],
    ['a client_msg_id over 64 characters', { clientMsgId: 'k'.repeat(65) }],
    ['a sent_at_ms past what a Date holds', { sentAtMs: '9223372036854775807' }],
    ['a negative sent_at_ms', { sentAtMs: -1 }],
    ['a NUL in the text', { text: 'a\u0000b' }],
  ])(
    'journal refuses AppendMessage with %s, which no projection could store',
    async (_label, change) => {
      const method = Object.fromEntries(methodsOf('JournalService')).AppendMessage!;
      const valid = {
        shardId: '0',
        sessionId: stack.session('regression'),
        messageId: '00000000-0000-4000-8000-000000000001',
        senderId: stack.user('alice'),
        text: 'hello',
        sentAtMs: Date.now(),
      };
      const client = new grpc.Client(
        `127.0.0.1:${stack.ports.journal1}`,
        grpc.credentials.createInsecure(),
      );
      try {
        const body = method.requestSerialize({ ...valid, ...change });
        expect((await call(client, method.path, body)).code).toBe(grpc.status.INVALID_ARGUMENT);
      } finally {
        client.close();
      }
    },
  );

  it.each([
    [
      'a message_id that is not a UUID',
      { messageId: "x' OR '1'='1" },
      grpc.status.INVALID_ARGUMENT,
    ],
    [
      'a message_id of megabytes',
      { messageId: 'x'.repeat(2 * 1024 * 1024) },
      grpc.status.INVALID_ARGUMENT,
    ],
    ['a user_id no user can have', { userId: 'a b' }, grpc.status.INVALID_ARGUMENT],
    ['a message that does not exist', {}, grpc.status.NOT_FOUND],
  ])(
    'logic answers GetMessage with %s by a status, never a crash',
    async (_label, change, status) => {
      const method = Object.fromEntries(methodsOf('ChatService')).GetMessage!;
      const valid = {
        messageId: '00000000-0000-4000-8000-000000000001',
        userId: stack.user('alice'),
      };
      const client = new grpc.Client(
        `127.0.0.1:${stack.ports.logic}`,
        grpc.credentials.createInsecure(),
        {
          'grpc.max_send_message_length': 16 * 1024 * 1024,
        },
      );
      try {
        const body = method.requestSerialize({ ...valid, ...change });
        expect((await call(client, method.path, body)).code).toBe(status);
      } finally {
        client.close();
      }
    },
  );

  it('ends every call to every internal method with a status, and the stack keeps serving chat', async () => {
    const started = Date.now();
    const { alice, bob, room, send } = await chatPair(stack, 'grpc-chat', [1, 2]);
    const exchange = (text: string) => send(alice, bob, text);
    await exchange('before the fuzz');

    const { ports } = stack;
    const targets: [string, ServiceName, number][] = [
      ['gateway-1', 'PushService', ports.push1],
      ['gateway-2', 'PushService', ports.push2],
      ['logic', 'ChatService', ports.logic],
      ['placement', 'PlacementService', ports.placement],
      ['journal-1', 'JournalService', ports.journal1],
      ['journal-2', 'JournalService', ports.journal2],
    ];
    const statuses = new Map<string, Map<string, number>>();
    let calls = 0;
    const clients: grpc.Client[] = [];
    try {
      await Promise.all(
        targets.flatMap(([process, service, port], t) => {
          const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
            // the fuzz sends bodies of several MiB on purpose
            'grpc.max_send_message_length': 16 * 1024 * 1024,
          });
          clients.push(client);
          return methodsOf(service).map(([name, method], m) => {
            const key = `${process} ${service}.${name}`;
            const seen = new Map<string, number>();
            statuses.set(key, seen);
            const property = fc.asyncProperty(
              bodyOf(method.requestType.type.name, method.requestSerialize),
              async ({ label, body }) => {
                const { code, details } = await call(client, method.path, body);
                calls++;
                const shown = `${label} → ${grpc.status[code]}${code === grpc.status.UNAVAILABLE ? ` (${details.slice(0, 60)})` : ''}`;
                seen.set(shown, (seen.get(shown) ?? 0) + 1);
                // the body reached the service (its identity was accepted)
                expect(code).not.toBe(grpc.status.UNAUTHENTICATED);
              },
            );
            return fc.assert(property, { numRuns: CALLS_PER_METHOD, seed: SEED + t * 100 + m });
          });
        }),
      );
    } finally {
      for (const client of clients) client.close();
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      [
        `gRPC fuzz seed ${SEED}: ${calls} calls to ${statuses.size} methods in ${seconds.toFixed(1)} s`,
        ...[...statuses].map(
          ([key, seen]) => `  ${key}: ${JSON.stringify(Object.fromEntries(seen))}`,
        ),
      ].join('\n'),
    );
    expect(calls).toBe(statuses.size * CALLS_PER_METHOD);
    // nothing the fuzz stored stopped a shard's projection (it would retry it forever)
    for (const journal of ['journal-1', 'journal-2']) {
      expect([journal, readFileSync(`${stack.logDir}/${journal}.log`, 'utf8')]).not.toEqual([
        journal,
        expect.stringMatching(/projection failed/),
      ]);
    }

    for (const [name, proc] of stack.processes) {
      expect({ name, running: proc.running, restarts: proc.restarts, pid: proc.pid }).toEqual({
        name,
        running: true,
        restarts: 0,
        pid: pidsAtStart.get(name),
      });
    }
    await exchange('after the fuzz');
    const history = await bob.request({ type: 'history', session: room });
    expect(history).toMatchObject({ type: 'history' });
    expect((history.messages as { text: string }[]).map((m) => m.text)).toEqual([
      'before the fuzz',
      'after the fuzz',
    ]);
  }, 300_000);
});
