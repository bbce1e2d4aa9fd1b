import * as grpc from '@grpc/grpc-js';
import { Attr, MetricName } from '@tracechat/contracts';
import { incrementCounter } from '@tracechat/telemetry';

/** gRPC status codes by name, for readable mapping tables. */
export const Status = grpc.status;

/**
 * Channel options of every call between the stack's services (clients take them, with their
 * service token, from `internalClientOptions`). grpc-js backs off up to 120 s
 * between reconnects; a service restarted by its supervisor is back within seconds, so callers
 * retry every 100 ms growing to 1 s at most and reach it as soon as it listens again.
 */
export const INTERNAL_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

/** Resolves once the client's channel is connected, or after `ms` (whichever comes first). */
export function connected(client: grpc.Client, ms: number): Promise<void> {
  return new Promise((resolve) => client.waitForReady(Date.now() + ms, () => resolve()));
}
export type Status = grpc.status;

/** An error that carries the gRPC status it should be answered with. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: grpc.status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The object grpc-js sends to the caller. */
  toServiceError(): Partial<grpc.ServiceError> {
    return { code: this.code, details: this.message, message: this.message };
  }
}

/** True for an error that came back from a gRPC call (it has a numeric status code). */
export function isServiceError(err: unknown): err is grpc.ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<grpc.ServiceError>).code === 'number' &&
    'details' in err
  );
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;

/**
 * Calls a unary method and resolves with its response; rejects with the ServiceError.
 * `metadata` is sent as given (e.g. another identity's token than the client's own).
 */
export function unary<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs: number,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(
      client,
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err, response) => {
        if (err) reject(err);
        else resolve(response as Res);
      },
    );
  });
}

/**
 * Wraps an async handler as a grpc-js unary handler: the resolved value is the response,
 * an RpcError becomes its status, and any other error becomes INTERNAL (its text is not sent).
 */
export function handleUnary<Req, Res>(
  fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
  onInternalError: (err: unknown) => void,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => {
          if (err instanceof RpcError) {
            callback(err.toServiceError() as grpc.ServiceError);
          } else {
            onInternalError(err);
            callback({
              code: grpc.status.INTERNAL,
              details: 'internal error',
            } as grpc.ServiceError);
          }
        },
      );
  };
}

/**
 * Makes handlers for one service: `wrap(fn)` is `handleUnary(fn)` with every error first passed
 * through `mapError`, the service's one mapping from its domain errors to RpcError.
 */
export function unaryHandlers(
  mapError: (err: unknown) => unknown,
  onInternalError: (err: unknown) => void,
): <Req, Res>(
  fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
) => grpc.handleUnaryCall<Req, Res> {
  return <Req, Res>(fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    handleUnary<Req, Res>(async (request, call) => {
      try {
        return await fn(request, call);
      } catch (err) {
        throw mapError(err);
      }
    }, onInternalError);
}

/**
 * Starts a grpc-js server on host:port (plaintext: internal calls are authenticated by service
 * tokens, see identity.ts) and resolves with the port it got (0 picks one).
 */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else resolve(port);
    });
  });
}

/** Stops accepting calls and waits for in-flight ones, forcing after `graceMs`. */
export function stopServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A service's refusal with a stable `code`; each service declares its codes and one table from
 * code to gRPC status, and `rpcErrorMapper` applies it at the edge.
 */
export class CodedError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The function that turns a service's CodedErrors into RpcErrors with their status; anything
 * else is returned unchanged (and reaches the caller as INTERNAL, never with its details).
 */
export function rpcErrorMapper<C extends string>(
  type: abstract new (...args: never[]) => CodedError<C>,
  statusOf: Readonly<Record<C, Status>>,
): (err: unknown) => unknown {
  return (err) =>
    err instanceof type ? new RpcError(statusOf[err.code], err.message, { cause: err }) : err;
}

/**
 * Counts a request whose limit was lowered to the server's maximum
 * (`tracechat.rpc.limit_clamped`, labels rpc.service, rpc.method, limit).
 */
export function countLimitClamped(service: string, method: string, limit: string): void {
  incrementCounter(
    MetricName.RPC_LIMIT_CLAMPED,
    { [Attr.RPC_SERVICE]: service, [Attr.RPC_METHOD]: method, limit },
    1,
    'Requests whose limit was lowered to the server maximum',
  );
}
