/**
 * Request bodies for the gRPC fuzz (fuzz-grpc.test.ts): protobuf bytes written by hand, so they
 * can be wrong in every way the encoding allows, and valid messages of the generated types with
 * values out of every range.
 */
import fc from 'fast-check';
import { tracechatV1 } from '@tracechat/protos';

interface FieldDescriptor {
  readonly name: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

/** The fields of a message type of tracechat.v1, from the loaded descriptors. */
function fieldsOf(typeName: string): readonly FieldDescriptor[] {
  const short = typeName.split('.').pop()!;
  const entry = (
    tracechatV1() as unknown as Record<string, { type?: { field: FieldDescriptor[] } }>
  )[short];
  if (!entry?.type) throw new Error(`no message type ${typeName}`);
  return entry.type.field;
}

const WIRE_OF: Readonly<Record<string, number>> = {
  TYPE_STRING: 2,
  TYPE_BYTES: 2,
  TYPE_MESSAGE: 2,
  TYPE_INT64: 0,
  TYPE_UINT32: 0,
  TYPE_INT32: 0,
  TYPE_BOOL: 0,
  TYPE_ENUM: 0,
};

/** A varint of the low 64 bits of `n` (negative numbers as ten bytes, as protobuf writes them). */
function varint(n: bigint): Buffer {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

const tag = (field: number, wire: number) => varint((BigInt(field) << 3n) | BigInt(wire));

const varintPayload: fc.Arbitrary<Buffer> = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).map(varint),
  fc
    .constantFrom(
      0n,
      1n,
      -1n,
      2n ** 31n,
      2n ** 32n,
      2n ** 53n + 1n,
      2n ** 63n - 1n,
      2n ** 63n,
      2n ** 64n - 1n,
      -(2n ** 63n),
    )
    .map(varint),
  // more than ten bytes, and a varint cut before its last byte
  fc
    .integer({ min: 11, max: 40 })
    .map((n) => Buffer.from([...Array<number>(n - 1).fill(0xff), 0x01])),
  fc.integer({ min: 1, max: 10 }).map((n) => Buffer.alloc(n, 0x80)),
);

const HUGE_LENGTHS = [
  2n ** 31n - 1n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n,
  2n ** 63n,
  2n ** 64n - 1n,
  1_000_000n,
];

/** Strings that are valid protobuf but wrong for the services, and bytes that are not UTF-8. */
const stringBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s)),
  fc
    .constantFrom(
      '',
      '__proto__',
      'constructor',
      '0',
      '15',
      '-1',
      '4096',
      'journal-x',
      'a b',
      'a.b',
      'x'.repeat(129),
    )
    .map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc
    .constantFrom([0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe], [0xe2, 0x82])
    .map((b) => Buffer.from(b)),
);

/** Bytes of one field of a length-delimited wire type: a right length, or one that lies. */
function lengthDelimited(content: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: content.map((b) => Buffer.concat([varint(BigInt(b.length)), b])) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...HUGE_LENGTHS), fc.uint8Array({ maxLength: 16 }))
        .map(([n, b]) => Buffer.concat([varint(n), Buffer.from(b)])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(content, fc.integer({ min: 1, max: 64 }))
        .map(([b, more]) => Buffer.concat([varint(BigInt(b.length + more)), b])),
    },
  );
}

/** The bytes after a tag of wire type `wire`. */
function payloadOf(wire: number, content: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  switch (wire) {
    case 0:
      return varintPayload;
    case 1:
      return fc.uint8Array({ minLength: 0, maxLength: 8 }).map((a) => Buffer.from(a));
    case 2:
      return lengthDelimited(content);
    case 5:
      return fc.uint8Array({ minLength: 0, maxLength: 4 }).map((a) => Buffer.from(a));
    case 3:
      // a group start, maybe closed, maybe followed by more groups
      return fc
        .integer({ min: 0, max: 50 })
        .map((n) =>
          Buffer.concat([...Array<Buffer>(n).fill(tag(1, 3)), ...Array<Buffer>(n).fill(tag(1, 4))]),
        );
    default:
      // 4 (group end without a start), 6 and 7 (no such wire type)
      return fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a));
  }
}

const messageCache = new Map<string, fc.Arbitrary<Buffer>>();

/**
 * Protobuf bytes shaped like a message of `typeName`: its fields (each maybe repeated, with its
 * own wire type or another), unknown fields, in any order; nested messages down to `depth`.
 */
function wireMessage(typeName: string, depth = 3): fc.Arbitrary<Buffer> {
  const key = `${typeName}/${depth}`;
  const cached = messageCache.get(key);
  if (cached) return cached;
  const entries = fieldsOf(typeName).map((f) => {
    const own = WIRE_OF[f.type] ?? 2;
    const content =
      f.type === 'TYPE_MESSAGE' && depth > 0 ? wireMessage(f.typeName, depth - 1) : stringBytes;
    const wire = fc.oneof(
      { weight: 4, arbitrary: fc.constant(own) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
    );
    const one = wire.chain((w) =>
      payloadOf(w, content).map((p) => Buffer.concat([tag(f.number, w), p])),
    );
    return fc.array(one, { maxLength: f.label === 'LABEL_REPEATED' ? 6 : 2 });
  });
  const unknown = fc.array(
    fc
      .tuple(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(0, 19_000, 2 ** 29 - 1, 2 ** 29)),
        fc.integer({ min: 0, max: 7 }),
      )
      .chain(([field, w]) =>
        payloadOf(w, stringBytes).map((p) => Buffer.concat([tag(field, w), p])),
      ),
    { maxLength: 3 },
  );
  const arb = fc
    .tuple(fc.tuple(...entries), unknown, fc.boolean())
    .map(([fields, extra, reverse]) => {
      const parts = [...fields.flat(), ...extra];
      if (reverse) parts.reverse();
      return Buffer.concat(parts);
    });
  messageCache.set(key, arb);
  return arb;
}

/**
 * Values of the right protobuf type that no caller should send; megabyte strings and bytes only
 * where `huge` (one field, not each element of a list).
 */
function typedValue(f: FieldDescriptor, depth: number, huge: boolean): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'TYPE_STRING':
      return fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.constantFrom(
          '',
          '0',
          '3',
          '15',
          '16',
          '-1',
          '__proto__',
          'constructor',
          '00',
          'x'.repeat(1025),
          '127.0.0.1:0',
          '[::1]:65536',
          'host:99999',
        ),
        fc.constantFrom(...(huge ? [100_000, 1_100_000] : [5000])).map((n) => 'x'.repeat(n)),
      );
    case 'TYPE_BYTES':
      return fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
        fc.constantFrom(Buffer.from('{"v":1,"kind":"message"}'), Buffer.from('{"__proto__":{}}')),
        fc.constantFrom(...(huge ? [1_100_000] : [5000])).map((n) => Buffer.alloc(n, 0x61)),
      );
    case 'TYPE_INT64':
      return fc.constantFrom(
        0,
        1,
        -1,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        '9223372036854775807',
        '-9223372036854775808',
        8.64e15 + 1,
      );
    case 'TYPE_UINT32':
      return fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1);
    case 'TYPE_INT32':
      return fc.constantFrom(0, -1, -(2 ** 31), 2 ** 31 - 1, 99);
    case 'TYPE_BOOL':
      return fc.boolean();
    case 'TYPE_ENUM':
      return fc.constantFrom(0, 1, 2, 3, 99, -1);
    case 'TYPE_MESSAGE':
      return depth > 0 ? typedMessage(f.typeName, depth - 1, huge) : fc.constant(null);
    default:
      return fc.constant(undefined);
  }
}

function typedMessage(
  typeName: string,
  depth = 2,
  huge = true,
): fc.Arbitrary<Record<string, unknown>> {
  const fields = fieldsOf(typeName);
  return fc.record(
    Object.fromEntries(
      fields.map((f) => {
        const arb =
          f.label === 'LABEL_REPEATED'
            ? fc.oneof(
                { weight: 8, arbitrary: fc.array(typedValue(f, depth, false), { maxLength: 4 }) },
                // more calls than a batch may hold (MAX_BATCH_CALLS is 512)
                {
                  weight: 1,
                  arbitrary: fc.array(typedValue(f, 1, false), { minLength: 513, maxLength: 520 }),
                },
              )
            : typedValue(f, depth, huge);
        return [f.name, arb];
      }),
    ),
    { requiredKeys: [] },
  );
}

export interface Body {
  readonly label: string;
  readonly body: Buffer;
}

/** Every kind of request body for a method whose request type is `typeName`. */
export function bodyOf(typeName: string, serialize: (value: object) => Buffer): fc.Arbitrary<Body> {
  const wire = wireMessage(typeName);
  const typed = typedMessage(typeName).map((v) => serialize(v));
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .uint8Array({ maxLength: 512 })
        .map((a) => ({ label: 'random bytes', body: Buffer.from(a) })),
    },
    { weight: 8, arbitrary: wire.map((body) => ({ label: 'malformed message', body })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.oneof(wire, typed), fc.nat())
        .map(([b, n]) => ({ label: 'truncated message', body: b.subarray(0, n % (b.length + 1)) })),
    },
    { weight: 6, arbitrary: typed.map((body) => ({ label: 'out-of-range values', body })) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1000, max: 200_000 })
        .map((n) => ({ label: 'deep groups', body: Buffer.alloc(n, tag(1, 3)[0]!) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 1, max: 15 }),
          fc.constantFrom(1024 * 1024, 3 * 1024 * 1024, 4 * 1024 * 1024 + 1),
        )
        .map(([field, size]) => ({
          label: 'megabytes in one field',
          body: Buffer.concat([tag(field, 2), varint(BigInt(size)), Buffer.alloc(size, 0x78)]),
        })),
    },
  );
}
