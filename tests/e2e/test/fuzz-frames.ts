/**
 * Generators of WebSocket input for the protocol fuzz (fuzz-ws.test.ts), and the oracle: what
 * protocol v1 (docs/protocol.md) promises for each input, worked out independently of the
 * gateway's parser.
 */
import fc from 'fast-check';
import { DEFAULT_LIMITS, ErrorCode, MAX_FRAME_ID_LENGTH } from '@tracechat/contracts';
import type { Frame } from '@tracechat/testkit';

const MAX_FRAME_BYTES = DEFAULT_LIMITS.maxFrameBytes;

/** One input: a whole message (maybe sent in fragments), or raw bytes of malformed WebSocket frames. */
export interface FuzzCase {
  readonly label: string;
  readonly payload: Buffer;
  readonly binary: boolean;
  /** The payload in fragments (continuation frames), when it is sent that way. */
  readonly pieces?: readonly Buffer[];
  /** Bytes written straight to the TCP socket, and the close code RFC 6455 / ws answer them with. */
  readonly raw?: Buffer;
  readonly rawClose?: number;
}

export type Expectation =
  | { readonly close: number }
  | {
      readonly replies: 0 | 1;
      /** The id the reply must carry. */
      readonly id: string | null;
      /** The reply type when the frame is accepted; undefined when only an error may come. */
      readonly replyType?: string;
      /** The only error code that may come (besides RATE_LIMITED), when the frame is malformed. */
      readonly errorCode?: string;
    };

const REPLY_OF: Readonly<Record<string, string>> = {
  join: 'joined',
  invite: 'invited',
  leave: 'left',
  send: 'ack',
  history: 'history',
  ping: 'pong',
};
const FRAME_TYPES = ['join', 'invite', 'leave', 'send', 'history', 'ping', 'received'] as const;

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** What the protocol promises for a case. */
export function expectationOf(c: FuzzCase): Expectation {
  if (c.raw) return { close: c.rawClose! };
  if (c.payload.length > MAX_FRAME_BYTES) return { close: 1009 };
  if (c.binary) return { replies: 1, id: null, errorCode: 'INVALID_FRAME' };
  let text: string;
  try {
    // a BOM is part of the text the gateway parses (and makes it invalid JSON)
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(c.payload);
  } catch {
    return { close: 1007 };
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    return { replies: 1, id: null, errorCode: 'INVALID_FRAME' };
  }
  const obj = asObject(decoded);
  if (obj?.type === 'received') {
    // no reply to a received, unless it is malformed (it has no id to echo)
    return typeof obj.message_id === 'string'
      ? { replies: 0, id: null }
      : { replies: 1, id: null, errorCode: 'INVALID_FRAME' };
  }
  const rawId = obj?.id;
  const id =
    typeof rawId === 'string' && rawId.length >= 1 && rawId.length <= MAX_FRAME_ID_LENGTH
      ? rawId
      : null;
  const type = obj?.type;
  const replyType =
    typeof type === 'string' && Object.hasOwn(REPLY_OF, type) ? REPLY_OF[type] : undefined;
  if (id === null || replyType === undefined) return { replies: 1, id, errorCode: 'INVALID_FRAME' };
  return { replies: 1, id, replyType };
}

/** What is wrong with a reply, if anything. */
export function replyProblem(expected: Expectation, reply: Frame): string | undefined {
  if ('close' in expected) return 'a reply where a close was expected';
  const shown = JSON.stringify(reply).slice(0, 300);
  if (reply.id !== expected.id)
    return `reply id ${JSON.stringify(reply.id)} is not ${JSON.stringify(expected.id)}: ${shown}`;
  if (reply.type === 'error') {
    if (!ERROR_CODES.has(String(reply.code))) return `unknown error code: ${shown}`;
    if (typeof reply.message !== 'string') return `error without a message: ${shown}`;
    if (reply.trace_id !== null && typeof reply.trace_id !== 'string')
      return `bad trace_id: ${shown}`;
    if (expected.errorCode && reply.code !== expected.errorCode && reply.code !== 'RATE_LIMITED') {
      return `expected ${expected.errorCode}: ${shown}`;
    }
    return undefined;
  }
  if (expected.replyType === undefined) return `a malformed frame was accepted: ${shown}`;
  if (reply.type !== expected.replyType) return `expected a ${expected.replyType} reply: ${shown}`;
  return undefined;
}

/** JSON text put verbatim into a frame: number literals JSON.stringify cannot write, nesting. */
class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

/** JSON of a value that may hold Raw pieces, and objects given as entry lists (keys may repeat). */
class Entries {
  constructor(readonly entries: readonly (readonly [string, unknown])[]) {}
}

function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Entries) {
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => toJson(v)).join(',')}]`;
  // plain objects from fast-check may have own "__proto__" keys: keep them as keys
  const obj = asObject(value);
  if (obj) return toJson(new Entries(Object.entries(obj)));
  return JSON.stringify(value) ?? 'null';
}

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
] as const;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const longString = fc
  .tuple(
    fc.oneof(fc.integer({ min: 60, max: 3000 }), fc.constantFrom(4096, 4097)),
    fc.constantFrom('x', 'é', '😀', '\u0000', '\n', '\ud800', '"'),
  )
  .map(([n, ch]) => ch.repeat(n));

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: anyCodeUnit }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constant('a')) }),
  fc.constantFrom(...PROTO_KEYS),
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '-0',
    '1e999',
    '0x10',
    '١٢٣',
    '',
    ' ',
    'null',
    'true',
  ),
  longString,
);

const weirdNumber = fc.oneof(
  fc.constantFrom(
    raw('1e308'),
    raw('-1e308'),
    raw('1e999'),
    raw('-1e999'),
    raw('-0'),
    raw('-0.0'),
    raw('5e-324'),
    raw('1e-400'),
    raw(String(2 ** 53 + 1)),
    raw('9007199254740993'),
    raw('-9007199254740993'),
    raw('18446744073709551616'),
    raw('123456789012345678901234567890123456789'),
    raw('0.5'),
    raw('1E2'),
    raw('-1'),
  ),
  fc.double().map((d) => raw(Number.isFinite(d) ? String(d) : '1e999')),
  fc.integer(),
);

const deepValue = fc.oneof(
  fc.integer({ min: 1, max: 7000 }).map((n) => raw('['.repeat(n) + ']'.repeat(n))),
  fc.integer({ min: 1, max: 2500 }).map((n) => raw('{"a":'.repeat(n) + '1' + '}'.repeat(n))),
  fc
    .integer({ min: 1, max: 2000 })
    .map((n) => raw('{"__proto__":'.repeat(n) + 'null' + '}'.repeat(n))),
);

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  weirdNumber,
  weirdString,
  fc.constantFrom(null, true, false, [], {}),
  fc.dictionary(fc.constantFrom(...PROTO_KEYS), fc.jsonValue(), { maxKeys: 3 }),
  deepValue,
);

const OMIT = Symbol('omit');

/** A field that is usually right, sometimes of any other shape, sometimes missing. */
function field(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 2, arbitrary: weirdValue },
    { weight: 1, arbitrary: fc.constant(OMIT) },
  );
}

const sessionId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'x'.repeat(128), 'x'.repeat(129)),
);
const userId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.@-]{1,128}$/),
  fc.constantFrom('__proto__', 'constructor'),
);
const traceparent = fc.oneof(
  fc
    .tuple(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/))
    .map(([t, s]) => `00-${t}-${s}-01`),
  weirdString,
);
const frameId = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: MAX_FRAME_ID_LENGTH }) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.oneof(loneSurrogate, anyCodeUnit),
      minLength: 1,
      maxLength: 64,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(64),
      'x'.repeat(65),
      '😀'.repeat(32),
      '😀'.repeat(33),
    ),
  },
);

const FIELDS: Readonly<
  Record<(typeof FRAME_TYPES)[number], Record<string, fc.Arbitrary<unknown>>>
> = {
  join: { session: sessionId, public: fc.boolean() },
  invite: { session: sessionId, user: userId },
  leave: { session: sessionId },
  send: {
    session: sessionId,
    text: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: anyCodeUnit, maxLength: 50 }),
      longString,
    ),
    client_msg_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
  },
  history: {
    session: sessionId,
    after_seq: fc.nat(),
    limit: fc.integer({ min: 0, max: 300 }),
  },
  ping: {},
  received: { message_id: fc.uuid(), traceparent },
};

/** A frame of a known (or, sometimes, unknown) type with every field right or wrong. */
const frameLike: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...FRAME_TYPES) },
      { weight: 1, arbitrary: weirdValue },
      { weight: 1, arbitrary: fc.constant(OMIT) },
    ),
    fc.boolean(),
  )
  .chain(([type, shuffle]) => {
    const specific =
      typeof type === 'string' && Object.hasOwn(FIELDS, type)
        ? FIELDS[type as keyof typeof FIELDS]
        : {};
    const fields: Record<string, fc.Arbitrary<unknown>> = {
      type: fc.constant(type),
      id: field(frameId),
      ...Object.fromEntries(Object.entries(specific).map(([k, arb]) => [k, field(arb)])),
      debug: fc.oneof(fc.constant(OMIT), fc.boolean(), weirdValue),
      traceparent: fc.oneof(fc.constant(OMIT), traceparent, weirdValue),
      tracestate: fc.oneof(fc.constant(OMIT), weirdString),
    };
    const extra = fc.array(
      fc.tuple(fc.oneof(fc.constantFrom(...PROTO_KEYS, 'type', 'id'), fc.string()), weirdValue),
      {
        maxLength: 3,
      },
    );
    return fc.tuple(fc.record(fields), extra).map(([values, more]) => {
      const entries = Object.entries(values).filter(([, v]) => v !== OMIT);
      const all = [...entries, ...more];
      if (shuffle) all.reverse();
      return toJson(new Entries(all));
    });
  });

const text =
  (label: string) =>
  (s: string): FuzzCase => ({ label, payload: Buffer.from(s, 'utf8'), binary: false });

/** Bytes that are not UTF-8: overlong forms, surrogates, stray continuation bytes, cut sequences. */
const invalidUtf8Piece = fc.constantFrom(
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xbf],
  [0xfe],
  [0xff],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
);
const invalidUtf8 = fc
  .tuple(frameLike, fc.array(invalidUtf8Piece, { minLength: 1, maxLength: 3 }), fc.nat())
  .map(([json, bad, at]): FuzzCase => {
    const bytes = Buffer.from(json, 'utf8');
    const cut = at % (bytes.length + 1);
    return {
      label: 'invalid-utf8',
      payload: Buffer.concat([
        bytes.subarray(0, cut),
        Buffer.from(bad.flat()),
        bytes.subarray(cut),
      ]),
      binary: false,
    };
  });

const binary = fc
  .oneof(
    fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
    frameLike.map((s) => Buffer.from(s)),
  )
  .map((payload): FuzzCase => ({ label: 'binary', payload, binary: true }));

/** A ping padded to exactly `size` bytes. */
function pingOfSize(size: number): Buffer {
  const head = '{"type":"ping","id":"sized","pad":"';
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '"}');
}

const oversized = fc
  .tuple(
    fc.integer({ min: MAX_FRAME_BYTES + 1, max: MAX_FRAME_BYTES * 4 }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([size, asBinary, asJson]): FuzzCase => ({
    label: 'oversized',
    payload: asJson ? pingOfSize(size) : Buffer.alloc(size, 0x61),
    binary: asBinary,
  }));

const boundary = fc
  .integer({ min: MAX_FRAME_BYTES - 2, max: MAX_FRAME_BYTES + 2 })
  .map((size): FuzzCase => ({ label: 'boundary', payload: pingOfSize(size), binary: false }));

const whole: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 12, arbitrary: frameLike.map(text('frame')) },
  { weight: 4, arbitrary: fc.jsonValue().map((v) => text('json')(JSON.stringify(v))) },
  {
    weight: 2,
    arbitrary: fc.anything().map((v) => text('anything')(JSON.stringify(v) ?? 'undefined')),
  },
  { weight: 1, arbitrary: deepValue.map((v) => text('deep')(toJson(v))) },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: fc.oneof(anyCodeUnit, fc.constantFrom('{', '}', '"', ':', ',', '[')) })
      .map(text('text')),
  },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: binary },
  { weight: 1, arbitrary: oversized },
  { weight: 1, arbitrary: boundary },
);

/** A whole case sent as a fragmented message: pieces cut at arbitrary places, empty ones too. */
const fragmented = fc
  .tuple(whole, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }))
  .map(([c, cuts]): FuzzCase => {
    const points = [...new Set(cuts.map((n) => n % (c.payload.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let from = 0;
    for (const p of [...points, c.payload.length]) {
      pieces.push(c.payload.subarray(from, p));
      from = p;
    }
    return { ...c, label: 'fragmented', pieces };
  });

/** Every generated input. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 10, arbitrary: whole },
  { weight: 1, arbitrary: fragmented },
);

interface RawFrame {
  readonly fin?: boolean;
  readonly rsv?: number;
  readonly opcode: number;
  readonly masked?: boolean;
  readonly payload?: Buffer;
  /** A length field that does not match the payload (7-bit, 16-bit or 64-bit form). */
  readonly length?: bigint;
}

/** A WebSocket frame as bytes (RFC 6455 §5.2), valid or not. */
function wsFrame(f: RawFrame): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  const length = f.length ?? BigInt(payload.length);
  const masked = f.masked ?? true;
  const head = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126n) head.push(maskBit | Number(length));
  else if (length < 65536n) head.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn));
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = [0x12, 0x34, 0x56, 0x78];
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), Buffer.from(key), body]);
}

const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, reason]);
};

const ping = Buffer.from('{"type":"ping","id":"raw"}');

/** Malformed WebSocket frames and the close code each must get (1002 protocol error, 1007, 1009). */
export const rawCases: readonly FuzzCase[] = (
  [
    [
      'reserved bit set without an extension',
      1002,
      [wsFrame({ rsv: 4, opcode: 1, payload: ping })],
    ],
    ['reserved data opcode', 1002, [wsFrame({ opcode: 3, payload: ping })]],
    ['reserved control opcode', 1002, [wsFrame({ opcode: 0xb })]],
    ['unmasked client frame', 1002, [wsFrame({ opcode: 1, payload: ping, masked: false })]],
    ['control frame over 125 bytes', 1002, [wsFrame({ opcode: 9, payload: Buffer.alloc(126, 1) })]],
    [
      'fragmented control frame',
      1002,
      [wsFrame({ fin: false, opcode: 9, payload: Buffer.from('x') })],
    ],
    ['continuation with nothing to continue', 1002, [wsFrame({ opcode: 0, payload: ping })]],
    [
      'a new message inside a fragmented one',
      1002,
      [
        wsFrame({ fin: false, opcode: 1, payload: ping.subarray(0, 5) }),
        wsFrame({ opcode: 1, payload: ping }),
      ],
    ],
    ['close with a one-byte body', 1002, [wsFrame({ opcode: 8, payload: Buffer.from([3]) })]],
    ['close with code 999', 1002, [wsFrame({ opcode: 8, payload: closePayload(999) })]],
    [
      'close with the reserved code 1005',
      1002,
      [wsFrame({ opcode: 8, payload: closePayload(1005) })],
    ],
    [
      'close reason that is not UTF-8',
      1007,
      [wsFrame({ opcode: 8, payload: closePayload(1000, Buffer.from([0xff])) })],
    ],
    ['64-bit length of 2^63', 1009, [wsFrame({ opcode: 1, length: 2n ** 63n })]],
    ['64-bit length of 2^53', 1009, [wsFrame({ opcode: 1, length: 2n ** 53n })]],
    [
      'length over the frame limit, no body yet',
      1009,
      [wsFrame({ opcode: 1, length: BigInt(MAX_FRAME_BYTES + 1) })],
    ],
    ['binary length over the frame limit', 1009, [wsFrame({ opcode: 2, length: 2n ** 32n })]],
    [
      'fragments adding up over the frame limit',
      1009,
      [
        wsFrame({ fin: false, opcode: 1, payload: Buffer.alloc(MAX_FRAME_BYTES, 0x61) }),
        wsFrame({ opcode: 0, payload: Buffer.from('a') }),
      ],
    ],
    ['a normal close', 1000, [wsFrame({ opcode: 8, payload: closePayload(1000) })]],
  ] as const
).map(([what, close, frames]) => ({
  label: `raw: ${what}`,
  payload: Buffer.alloc(0),
  binary: false,
  raw: Buffer.concat(frames),
  rawClose: close,
}));
