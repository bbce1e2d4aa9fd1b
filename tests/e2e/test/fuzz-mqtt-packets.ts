/**
 * Generators of MQTT input for the MQTT fuzz (fuzz-mqtt.test.ts) and the oracle: what MQTT 5
 * lets a server answer to each input, worked out from the specification rather than from the
 * gateway's code. Packets are built with mqtt-packet; the malformed ones are its bytes mutated,
 * truncated or replaced by random bytes.
 */
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

/** One case, written to a connection that already completed its CONNECT (unless `fresh`). */
export interface MqttCase {
  readonly label: string;
  readonly bytes: Buffer;
  /** The packet before encoding, when the bytes are exactly one well-formed packet. */
  readonly packet?: Packet;
  /** Written as the first bytes of a new connection (a CONNECT of its own, fuzzed or not). */
  readonly fresh?: boolean;
  /** The client hangs up right after writing (a peer vanishing mid-packet). */
  readonly abandon?: boolean;
}

/**
 * What may follow a case:
 * - `ack`: a complete valid packet: the connection stays and answers it (the `ack` packet with the
 *   same packet id, when there is one), or the gateway ends it with a DISCONNECT ≥ 0x80;
 * - `close`: the gateway must end the connection, with this DISCONNECT reason code when given;
 * - `any`: whatever, as long as it answers with MQTT packets or ends the connection (it may also
 *   wait for bytes that never come: a length that runs past what was sent).
 */
export type MqttExpectation =
  | { readonly kind: 'ack'; readonly ack?: string; readonly packetId?: number }
  | { readonly kind: 'close'; readonly reason?: number }
  | { readonly kind: 'any' };

/** MQTT 5 DISCONNECT reason codes a server may send (MQTT 5.0, 3.14.2.1), errors only. */
export const SERVER_DISCONNECT_ERRORS: ReadonlySet<number> = new Set([
  0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

export function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 5 });
}

export function expectationOf(c: MqttCase, maxPacketBytes: number): MqttExpectation {
  if (c.label === 'oversized') return { kind: 'close', reason: 0x95 };
  if (c.label === 'bad-length') return { kind: 'close', reason: 0x81 };
  if (c.label === 'wrong-type') return { kind: 'close' };
  if (c.label !== 'valid' || !c.packet) return { kind: 'any' };
  if (c.bytes.length > maxPacketBytes) return { kind: 'close', reason: 0x95 };
  const p = c.packet as Packet & { messageId?: number; qos?: number };
  switch (p.cmd) {
    case 'pingreq':
      return { kind: 'ack', ack: 'pingresp' };
    case 'subscribe':
      return { kind: 'ack', ack: 'suback', packetId: p.messageId };
    case 'unsubscribe':
      return { kind: 'ack', ack: 'unsuback', packetId: p.messageId };
    case 'publish':
      // QoS 2 is refused (the gateway offers QoS 1 at most), and ends the connection
      if (p.qos === 2) return { kind: 'close' };
      return p.qos === 1 ? { kind: 'ack', ack: 'puback', packetId: p.messageId } : { kind: 'ack' };
    case 'connect':
      // a second CONNECT is a protocol error (MQTT 5.0, 3.1)
      return { kind: 'close', reason: 0x82 };
    case 'disconnect':
      return { kind: 'close' };
    default:
      return { kind: 'ack' };
  }
}

const packetId = fc.integer({ min: 1, max: 65_535 });
const sessionName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/);
const oddTopic = fc.oneof(
  fc.constantFrom('chat/', 'chat', '#', '+', 'chat/#', 'chat/+', '$SYS/broker', 'other/x', 'chat/a/b', 'chat//', '/chat/x', 'CHAT/x', 'chat/\u00e9t\u00e9', 'chat/😀', 'chat/a+b'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 200, maxLength: 400 }).map((s) => `chat/${s}`),
);
/** Mostly sessions of a few names (so subscribes and publishes meet), sometimes anything. */
const topic = (sessions: readonly string[]) =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...sessions).map((s) => `chat/${s}`) }, { weight: 2, arbitrary: sessionName.map((s) => `chat/${s}`) }, { weight: 2, arbitrary: oddTopic });

const userProperties = fc.dictionary(
  fc.oneof(fc.constantFrom('client_msg_id', 'traceparent', 'tracestate', 'debug', 'x'), fc.string({ maxLength: 12 })),
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-00000000000000000000000000000000-0000000000000000-01', 'ff-zz', ''),
  ),
  { maxKeys: 3 },
);

const payload = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 200 }).map((s) => Buffer.from(s)) },
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constantFrom(Buffer.alloc(0), Buffer.from([0xff, 0xfe]), Buffer.from('\u0000')),
);

function validPacket(sessions: readonly string[]): fc.Arbitrary<Packet> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .record({
          topic: topic(sessions),
          payload,
          qos: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constant(2) }),
          messageId: packetId,
          // retain is refused with DISCONNECT 0x9a: rare, so most publishes reach logic
          retain: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))).chain((b) => (b ? fc.boolean() : fc.constant(false))),
          userProperties,
          payloadFormatIndicator: fc.option(fc.boolean(), { nil: undefined }),
          messageExpiryInterval: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
          contentType: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        })
        .map(
          ({ topic: t, payload: body, qos, messageId, retain, userProperties: up, payloadFormatIndicator, messageExpiryInterval, contentType }) =>
            ({
              cmd: 'publish',
              topic: t,
              payload: body,
              qos: qos as 0 | 1 | 2,
              ...(qos > 0 ? { messageId } : {}),
              dup: false,
              retain,
              properties: {
                ...(Object.keys(up).length > 0 ? { userProperties: up } : {}),
                ...(payloadFormatIndicator === undefined ? {} : { payloadFormatIndicator }),
                ...(messageExpiryInterval === undefined ? {} : { messageExpiryInterval }),
                ...(contentType === undefined ? {} : { contentType }),
              },
            }) as Packet,
        ),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          messageId: packetId,
          subscriptions: fc.array(
            fc.record({ topic: topic(sessions), qos: fc.constantFrom(0, 1, 2), nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }),
            { minLength: 1, maxLength: 4 },
          ),
          userProperties,
        })
        .map(
          ({ messageId, subscriptions, userProperties: up }) =>
            ({
              cmd: 'subscribe',
              messageId,
              subscriptions: subscriptions.map((s) => ({ ...s, qos: s.qos as 0 | 1 | 2, rh: s.rh })),
              ...(Object.keys(up).length > 0 ? { properties: { userProperties: up } } : {}),
            }) as Packet,
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ messageId: packetId, unsubscriptions: fc.array(topic(sessions), { minLength: 1, maxLength: 3 }) })
        .map(({ messageId, unsubscriptions }) => ({ cmd: 'unsubscribe', messageId, unsubscriptions }) as Packet),
    },
    { weight: 2, arbitrary: fc.constant({ cmd: 'pingreq' } as Packet) },
    { weight: 1, arbitrary: packetId.map((messageId) => ({ cmd: 'puback', messageId, reasonCode: 0 }) as Packet) },
    {
      weight: 1,
      arbitrary: fc.constant({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'again',
        keepalive: 30,
      } as Packet),
    },
  );
}

/** Flips, inserts or deletes a few bytes of an encoded packet. */
const mutation = fc.array(
  fc.record({ op: fc.constantFrom('flip', 'set', 'insert', 'delete'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 4 },
);

function mutate(bytes: Buffer, ops: { op: string; at: number; value: number }[]): Buffer {
  const out = [...bytes];
  for (const { op, at, value } of ops) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (op === 'flip') out[i] = (out[i] ?? 0) ^ (1 << (value % 8));
    else if (op === 'set') out[i] = value;
    else if (op === 'insert') out.splice(i, 0, value);
    else if (out.length > 1) out.splice(i, 1);
  }
  return Buffer.from(out);
}

/** Client-to-server packet types a server never accepts: reserved 0, CONNACK, SUBACK, UNSUBACK, PINGRESP. */
const wrongType = fc
  .record({ type: fc.constantFrom(0, 2, 9, 11, 13), flags: fc.integer({ min: 0, max: 15 }), body: fc.uint8Array({ maxLength: 20 }) })
  .map(({ type, flags, body }) => Buffer.concat([Buffer.from([(type << 4) | flags, body.length]), Buffer.from(body)]));

/** A remaining length whose variable byte integer runs past four bytes (MQTT 5.0, 1.5.5). */
const badLength = fc
  .record({ header: fc.constantFrom(0x30, 0x32, 0x82, 0xa2, 0xc0, 0x40, 0xe0), extra: fc.integer({ min: 1, max: 3 }) })
  .map(({ header, extra }) => Buffer.from([header, ...Array<number>(3 + extra).fill(0xff), 0x01]));

function connectPacket(user: string, password: string): Packet {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `${user}-fuzz`, keepalive: 60, username: user, password: Buffer.from(password) } as Packet;
}

/**
 * Every kind of case, weighted: valid packets most, then mutated, random, truncated (the client
 * hangs up mid-packet), wrong types, bad lengths, oversized packets and fuzzed CONNECTs on fresh
 * connections.
 */
export function mqttCase(sessions: readonly string[], maxPacketBytes: number, user: string, token: string): fc.Arbitrary<MqttCase> {
  const valid = validPacket(sessions);
  const safeEncode = (packet: Packet): Buffer | undefined => {
    try {
      // mqtt-packet writes nothing for a packet it cannot encode (an empty user property list)
      const bytes = encode(packet);
      return bytes.length > 0 ? bytes : undefined;
    } catch {
      return undefined;
    }
  };
  const validCase = valid
    .map((packet) => ({ packet, bytes: safeEncode(packet) }))
    .filter((x): x is { packet: Packet; bytes: Buffer } => x.bytes !== undefined)
    .map(({ packet, bytes }) => ({ label: 'valid', bytes, packet }) as MqttCase);
  const encoded = validCase.map((c) => c.bytes);
  return fc.oneof(
    { weight: 40, arbitrary: validCase },
    { weight: 20, arbitrary: fc.tuple(encoded, mutation).map(([bytes, ops]) => ({ label: 'mutated', bytes: mutate(bytes, ops) })) },
    { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => ({ label: 'random', bytes: Buffer.from(a) })) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(encoded.filter((b) => b.length > 1), fc.nat())
        .map(([bytes, n]) => ({ label: 'truncated', bytes: bytes.subarray(0, 1 + (n % (bytes.length - 1))), abandon: true })),
    },
    { weight: 6, arbitrary: wrongType.map((bytes) => ({ label: 'wrong-type', bytes })) },
    { weight: 3, arbitrary: badLength.map((bytes) => ({ label: 'bad-length', bytes })) },
    {
      weight: 2,
      arbitrary: fc.integer({ min: 1, max: 4096 }).map((over) => {
        const packet = { cmd: 'publish', topic: `chat/${sessions[0]}`, payload: Buffer.alloc(maxPacketBytes + over, 0x61), qos: 0, dup: false, retain: false } as Packet;
        return { label: 'oversized', bytes: encode(packet) };
      }),
    },
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.constantFrom(connectPacket(user, token), connectPacket(user, 'not-a-token'), connectPacket('', token)), mutation, fc.boolean())
        .map(([packet, ops, keep]) => ({ label: 'connect', bytes: keep ? encode(packet) : mutate(encode(packet), ops), fresh: true })),
    },
  );
}
