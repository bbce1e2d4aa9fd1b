/**
 * Service identity on every internal gRPC call: short-lived HS256 JWTs signed with the stack's
 * SERVICE_SECRET, sent as `authorization: Bearer <token>` by a client interceptor and checked by
 * a server interceptor. Signed and checked by the HS256 JWT code of the client tokens
 * (@tracechat/contracts): the check runs synchronously in the call path and needs only HS256;
 * every other algorithm, `none` included, is refused. Minting and verification are both cached, so a call costs a clock
 * read on the client and a map lookup on the server.
 */
import * as grpc from '@grpc/grpc-js';
import { Attr, decodeHs256Jwt, JwtError, MetricName, signHs256Jwt } from '@tracechat/contracts';
import { incrementCounter } from '@tracechat/telemetry';
import { INTERNAL_CHANNEL_OPTIONS } from './rpc';

/** Who may hold a service token: the five services, and `cli` for operator and test tools. */
export const ServiceName = {
  GATEWAY: 'gateway',
  LOGIC: 'logic',
  PLACEMENT: 'placement',
  JOURNAL: 'journal',
  TASK: 'task',
  CLI: 'cli',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];
const SERVICE_NAMES: ReadonlySet<string> = new Set(Object.values(ServiceName));

/** The caller of an internal call: its service and, for a journal node, its node id. */
export interface ServiceIdentity {
  readonly service: ServiceName;
  readonly node?: string;
}

export const SERVICE_TOKEN_ISSUER = 'tracechat';
export const SERVICE_TOKEN_AUDIENCE = 'tracechat-internal';
/** A service token's life: `exp` is `iat` plus this. */
export const SERVICE_TOKEN_TTL_SECONDS = 120;
/** A client mints a new token when its current one has less than this left. */
export const SERVICE_TOKEN_REMINT_SECONDS = 60;
/** Clock skew allowed between the minting and the checking process, both ways. */
export const SERVICE_TOKEN_SKEW_SECONDS = 30;
/** Longest `exp - iat` a server accepts: a token that leaks is worth little for long. */
export const SERVICE_TOKEN_MAX_LIFETIME_SECONDS = 600;
const MAX_NODE_LENGTH = 128;

/**
 * Which services may call which server (by the gRPC service's full name). The call graph:
 * task pushes to gateways; gateways and task (members of a session) call logic; journal nodes
 * register with placement and logic looks shards up there; logic appends to journal nodes.
 * `cli` is the identity of operator and test tools (shard map, direct journal reads). A service
 * not listed here is refused to everyone.
 */
export const SERVICE_CALLERS: Readonly<Record<string, readonly ServiceName[]>> = {
  'tracechat.v1.PushService': ['task'],
  'tracechat.v1.ChatService': ['gateway', 'task'],
  'tracechat.v1.PlacementService': ['journal', 'logic', 'cli'],
  'tracechat.v1.JournalService': ['logic', 'cli'],
};

/** Why a call was refused; the `reason` label of the refusal counters. */
export const RefusalReason = {
  MISSING: 'missing',
  MALFORMED: 'malformed',
  BAD_SIGNATURE: 'bad_signature',
  WRONG_ISSUER: 'wrong_issuer',
  WRONG_AUDIENCE: 'wrong_audience',
  EXPIRED: 'expired',
  NOT_YET_VALID: 'not_yet_valid',
  TOO_LONG_LIVED: 'too_long_lived',
  UNKNOWN_SERVICE: 'unknown_service',
  /** A valid identity that may not call this service. */
  SERVICE_NOT_ALLOWED: 'service_not_allowed',
  /** A journal identity acting for another node than its own. */
  NODE_MISMATCH: 'node_mismatch',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

export class ServiceTokenError extends Error {
  override readonly name = 'ServiceTokenError';
  readonly code = 'UNAUTHENTICATED';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Signs a service token for `identity`: `{iss, aud, sub: service, node?, iat, exp}`. Clients
 * use ServiceTokens, which caches it; this is the one signing function (tests sign odd tokens
 * with it: `ttlSeconds` may be negative).
 */
export function signServiceToken(
  identity: ServiceIdentity,
  secret: string,
  nowMs = Date.now(),
  ttlSeconds = SERVICE_TOKEN_TTL_SECONDS,
  claims: Record<string, unknown> = {},
): string {
  const iat = Math.floor(nowMs / 1000);
  return signHs256Jwt(
    {
      iss: SERVICE_TOKEN_ISSUER,
      aud: SERVICE_TOKEN_AUDIENCE,
      sub: identity.service,
      ...(identity.node ? { node: identity.node } : {}),
      iat,
      exp: iat + ttlSeconds,
      ...claims,
    },
    secret,
  );
}

/** A verified token: who sent it and until when it is accepted (skew included). */
export interface VerifiedServiceToken {
  readonly identity: ServiceIdentity;
  readonly acceptUntilMs: number;
}

/**
 * Verifies a service token. Refuses other algorithms, a bad signature, another issuer or
 * audience, a token expired (or issued in the future) by more than SERVICE_TOKEN_SKEW_SECONDS,
 * one living longer than SERVICE_TOKEN_MAX_LIFETIME_SECONDS and an unknown service. Throws
 * ServiceTokenError with the reason.
 */
export function verifyServiceToken(
  token: string,
  secret: string,
  nowMs = Date.now(),
): VerifiedServiceToken {
  let payload: Record<string, unknown>;
  try {
    payload = decodeHs256Jwt(token, secret);
  } catch (err) {
    throw new ServiceTokenError(
      err instanceof JwtError ? err.fault : 'malformed',
      (err as Error).message,
    );
  }
  if (payload.iss !== SERVICE_TOKEN_ISSUER) {
    throw new ServiceTokenError('wrong_issuer', 'token has another issuer');
  }
  const aud = payload.aud;
  if (
    aud !== SERVICE_TOKEN_AUDIENCE &&
    !(Array.isArray(aud) && aud.includes(SERVICE_TOKEN_AUDIENCE))
  ) {
    throw new ServiceTokenError('wrong_audience', 'token is for another audience');
  }
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number') {
    throw new ServiceTokenError('malformed', 'token has no iat or exp');
  }
  const now = nowMs / 1000;
  if (exp + SERVICE_TOKEN_SKEW_SECONDS < now) {
    throw new ServiceTokenError('expired', 'token has expired');
  }
  if (iat - SERVICE_TOKEN_SKEW_SECONDS > now) {
    throw new ServiceTokenError('not_yet_valid', 'token is issued in the future');
  }
  if (exp - iat > SERVICE_TOKEN_MAX_LIFETIME_SECONDS) {
    throw new ServiceTokenError('too_long_lived', 'token lives too long');
  }
  if (typeof payload.sub !== 'string' || !SERVICE_NAMES.has(payload.sub)) {
    throw new ServiceTokenError('unknown_service', 'token names no known service');
  }
  const node = payload.node;
  if (
    node !== undefined &&
    (typeof node !== 'string' || node === '' || node.length > MAX_NODE_LENGTH)
  ) {
    throw new ServiceTokenError('malformed', 'token node is malformed');
  }
  return {
    identity:
      node === undefined
        ? { service: payload.sub as ServiceName }
        : { service: payload.sub as ServiceName, node },
    acceptUntilMs: (exp + SERVICE_TOKEN_SKEW_SECONDS) * 1000,
  };
}

/**
 * This process's service token: minted on first use and again when less than
 * SERVICE_TOKEN_REMINT_SECONDS remain, so a call costs a clock read. `interceptor` adds it to
 * every call of a client (unary and streaming) that carries no authorization of its own.
 */
export class ServiceTokens {
  private current = '';
  private remintAtMs = 0;
  readonly interceptor: grpc.Interceptor;

  constructor(
    readonly identity: ServiceIdentity,
    private readonly secret: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.interceptor = (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          if (metadata.get('authorization').length === 0) {
            metadata.set('authorization', `Bearer ${this.token()}`);
          }
          next(metadata, listener);
        },
      });
  }

  token(): string {
    const now = this.clock();
    if (now >= this.remintAtMs) {
      this.current = signServiceToken(this.identity, this.secret, now);
      this.remintAtMs =
        Math.floor(now / 1000) * 1000 +
        (SERVICE_TOKEN_TTL_SECONDS - SERVICE_TOKEN_REMINT_SECONDS) * 1000;
    }
    return this.current;
  }

  /** Metadata carrying this token: for one call made as this identity on a client of another. */
  metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.token()}`);
    return metadata;
  }
}

/**
 * Options of every client of an internal service: the reconnect backoff of
 * INTERNAL_CHANNEL_OPTIONS, `extra`, and the interceptor that sends `tokens` on every call.
 */
export function internalClientOptions(
  tokens: ServiceTokens,
  extra: grpc.ChannelOptions = {},
): grpc.ClientOptions {
  return { ...INTERNAL_CHANNEL_OPTIONS, ...extra, interceptors: [tokens.interceptor] };
}

/** A refused call, as the server reports it (never the token). */
export interface RpcRefusal {
  readonly code: typeof grpc.status.UNAUTHENTICATED | typeof grpc.status.PERMISSION_DENIED;
  readonly reason: RefusalReason;
  readonly service: string;
  readonly method: string;
  readonly peer: string;
  /** The caller's identity when its token was valid. */
  readonly caller?: string;
}

/** Describes an identity for logs and refusals: `journal/journal-1`, `logic`. */
export function describeIdentity(identity: ServiceIdentity | undefined): string {
  if (!identity) return 'nobody';
  return identity.node ? `${identity.service}/${identity.node}` : identity.service;
}

/**
 * Counts a refused call in `tracechat.rpc.unauthenticated` or `tracechat.rpc.permission_denied`
 * (labels rpc.service, rpc.method, reason). The server interceptor calls it; a handler that
 * refuses on identity (placement's node registration) calls it too.
 */
export function countRefusal(refusal: Omit<RpcRefusal, 'peer'>): void {
  incrementCounter(
    refusal.code === grpc.status.UNAUTHENTICATED
      ? MetricName.RPC_UNAUTHENTICATED
      : MetricName.RPC_PERMISSION_DENIED,
    {
      [Attr.RPC_SERVICE]: refusal.service,
      [Attr.RPC_METHOD]: refusal.method,
      reason: refusal.reason,
    },
    1,
    refusal.code === grpc.status.UNAUTHENTICATED
      ? 'Internal calls refused for a missing or invalid service token'
      : 'Internal calls refused to a valid identity that may not make them',
  );
}

/** Verified tokens remembered by one server; a steady stack uses a handful. */
const VERIFIED_CACHE_SIZE = 1024;

/** Verifies service tokens, remembering each verified one until it stops being accepted. */
export class ServiceTokenVerifier {
  private readonly verified = new Map<string, VerifiedServiceToken>();

  constructor(
    private readonly secret: string,
    private readonly maxEntries = VERIFIED_CACHE_SIZE,
  ) {}

  /** The caller's identity; throws ServiceTokenError. A remembered token costs a lookup. */
  verify(token: string, nowMs = Date.now()): ServiceIdentity {
    const hit = this.verified.get(token);
    if (hit && nowMs <= hit.acceptUntilMs) return hit.identity;
    if (hit) this.verified.delete(token);
    const fresh = verifyServiceToken(token, this.secret, nowMs);
    if (this.verified.size >= this.maxEntries) {
      this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, fresh);
    return fresh.identity;
  }

  get size(): number {
    return this.verified.size;
  }
}

const callers = new WeakMap<grpc.Metadata, ServiceIdentity>();

/**
 * The verified identity of the caller of a call on a server made by `internalServer`; undefined
 * only on a server without the check.
 */
export function callerIdentity(call: {
  readonly metadata: grpc.Metadata;
}): ServiceIdentity | undefined {
  return callers.get(call.metadata);
}

export interface InternalServerAuth {
  /** SERVICE_SECRET. */
  readonly secret: string;
  /** Hears every refused call (the service logs it); the refusal is already counted. */
  readonly onRefused: (refusal: RpcRefusal) => void;
  /** Who may call which service; SERVICE_CALLERS by default. */
  readonly callers?: Readonly<Record<string, readonly ServiceName[]>>;
}

interface MethodRule {
  readonly service: string;
  readonly method: string;
  readonly allowed: ReadonlySet<string>;
}

function bearer(metadata: grpc.Metadata): string | undefined {
  const values = metadata.get('authorization');
  const value = values.length === 1 ? values[0] : undefined;
  if (typeof value !== 'string' || !value.startsWith('Bearer ')) return undefined;
  return value.slice('Bearer '.length).trim() || undefined;
}

/**
 * The server interceptor that admits a call only with a valid service token from a service
 * allowed to call this one: UNAUTHENTICATED without a valid token, PERMISSION_DENIED for an
 * identity that may not call. The status details say why in a few words.
 */
export function serviceAuthInterceptor(auth: InternalServerAuth): grpc.ServerInterceptor {
  const verifier = new ServiceTokenVerifier(auth.secret);
  const table = auth.callers ?? SERVICE_CALLERS;
  const rules = new Map<string, MethodRule>();
  const ruleOf = (path: string): MethodRule => {
    let rule = rules.get(path);
    if (!rule) {
      const [, service = '', method = ''] = path.split('/');
      rule = { service, method, allowed: new Set(table[service] ?? []) };
      rules.set(path, rule);
    }
    return rule;
  };

  return (descriptor, call) => {
    const rule = ruleOf(descriptor.path);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const refuse = (
              code: RpcRefusal['code'],
              reason: RefusalReason,
              details: string,
              caller?: ServiceIdentity,
            ) => {
              const refusal: RpcRefusal = {
                code,
                reason,
                service: rule.service,
                method: rule.method,
                peer: call.getPeer(),
                ...(caller ? { caller: describeIdentity(caller) } : {}),
              };
              countRefusal(refusal);
              auth.onRefused(refusal);
              call.sendStatus({ code, details, metadata: new grpc.Metadata() });
            };
            const token = bearer(metadata);
            if (token === undefined) {
              refuse(grpc.status.UNAUTHENTICATED, 'missing', 'service token required');
              return;
            }
            let identity: ServiceIdentity;
            try {
              identity = verifier.verify(token);
            } catch (err) {
              if (!(err instanceof ServiceTokenError)) throw err;
              refuse(
                grpc.status.UNAUTHENTICATED,
                err.reason,
                `service token refused: ${err.reason}`,
              );
              return;
            }
            if (!rule.allowed.has(identity.service)) {
              refuse(
                grpc.status.PERMISSION_DENIED,
                'service_not_allowed',
                `${identity.service} may not call ${rule.service}`,
                identity,
              );
              return;
            }
            callers.set(metadata, identity);
            pass(metadata);
          },
        }),
    });
  };
}

/**
 * A gRPC server for an internal service: every call is checked by `serviceAuthInterceptor`
 * before its handler runs; handlers read the caller with `callerIdentity(call)`.
 */
export function internalServer(
  auth: InternalServerAuth,
  options: grpc.ServerOptions = {},
): grpc.Server {
  return new grpc.Server({
    ...options,
    interceptors: [...(options.interceptors ?? []), serviceAuthInterceptor(auth)],
  });
}
