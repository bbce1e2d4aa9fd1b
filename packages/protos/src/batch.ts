import * as grpc from '@grpc/grpc-js';
import { batchTracing } from '@tracechat/telemetry';
import { RpcError, isServiceError, unary } from './rpc';

/** Trace context of one call in a batch (`TraceContext` in batch.proto). */
export interface CallTrace {
  traceparent: string;
  tracestate: string;
}

/** One call of a batch request: its own request and its own trace context. */
export interface BatchCall<Req> {
  request?: Req | null;
  trace?: CallTrace | null;
}

/** One result of a batch response: a status (code 0 = OK) and, when OK, the response. */
export interface BatchResult<Res> {
  status?: { code: number; message: string } | null;
  response?: Res | null;
}

/**
 * A call that failed inside a batch, shaped like a grpc-js ServiceError (`code`, `details`), so
 * a caller handles it exactly as the error of a call of its own.
 */
export class BatchCallError extends Error {
  override readonly name = 'BatchCallError';
  readonly metadata = new grpc.Metadata();
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${code} ${grpc.status[code] ?? 'UNKNOWN'}: ${details}`, options);
  }
}

/** The largest batch a client sends and a server accepts. */
export const MAX_BATCH_CALLS = 512;

interface Waiting<Req, Res> {
  readonly call: BatchCall<Req>;
  readonly resolve: (response: Res) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Turns single calls into batch RPCs: the calls made in one turn of the event loop (up to
 * `maxCalls`) leave in one RPC, each with the trace context active when it was made, and each
 * caller gets its own result or error. Many batches may be in flight at once; a batch never
 * waits for time to pass, so a lone call costs no extra latency.
 */
export class CallBatcher<Req, Res> {
  private waiting: Waiting<Req, Res>[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (calls: BatchCall<Req>[]) => Promise<BatchResult<Res>[]>,
    private readonly maxCalls = MAX_BATCH_CALLS,
  ) {}

  call(request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.waiting.push({ call: { request, trace: batchTracing.capture() }, resolve, reject });
      if (this.waiting.length >= this.maxCalls) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    // the batch RPC belongs to no single message: it runs outside every trace
    batchTracing
      .detached(() => this.send(batch.map((w) => w.call)))
      .then(
        (results) => {
          for (const [i, waiting] of batch.entries()) {
            const result = results[i];
            if (!result) {
              waiting.reject(
                new BatchCallError(grpc.status.INTERNAL, 'batch answered too few results'),
              );
            } else if (result.status && result.status.code !== grpc.status.OK) {
              waiting.reject(new BatchCallError(result.status.code, result.status.message));
            } else {
              waiting.resolve(result.response as Res);
            }
          }
        },
        (err: unknown) => {
          // each caller gets an error of its own (spans record an error object once)
          for (const waiting of batch) {
            waiting.reject(
              isServiceError(err)
                ? new BatchCallError(err.code, err.details, { cause: err })
                : new BatchCallError(
                    grpc.status.UNAVAILABLE,
                    String((err as Error)?.message ?? err),
                    {
                      cause: err,
                    },
                  ),
            );
          }
        },
      );
  }
}

type BatchMethod<Req, Res> = (
  request: { calls: BatchCall<Req>[] },
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: { results: BatchResult<Res>[] }) => void,
) => grpc.ClientUnaryCall;

/** A CallBatcher over one batch method of a client, each RPC with a deadline of `deadlineMs`. */
export function batchedCalls<Req, Res>(
  client: grpc.Client,
  method: BatchMethod<Req, Res>,
  deadlineMs: number,
  maxCalls = MAX_BATCH_CALLS,
): CallBatcher<Req, Res> {
  return new CallBatcher<Req, Res>(
    async (calls) => (await unary(client, method, { calls }, deadlineMs)).results,
    maxCalls,
  );
}

/**
 * Serves a batch RPC with a single-call handler: every call runs under its own trace context
 * (so each message's spans stay in its own trace) and gets its own result; an RpcError (after
 * `mapError`) becomes the call's status, anything else INTERNAL without its text. Calls run
 * concurrently, or one after another with `sequential` (when their order matters).
 */
export function batchHandler<Req, Res>(
  handle: (request: Req) => Promise<Res>,
  options: {
    readonly mapError: (err: unknown) => unknown;
    readonly onInternalError: (err: unknown) => void;
    readonly sequential?: boolean;
  },
): grpc.handleUnaryCall<{ calls: BatchCall<Req>[] }, { results: BatchResult<Res>[] }> {
  const one = async (call: BatchCall<Req>): Promise<BatchResult<Res>> => {
    try {
      if (!call.request) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'request is required');
      const request = call.request;
      const response = await batchTracing.run(call.trace, () => handle(request));
      return { status: { code: grpc.status.OK, message: '' }, response };
    } catch (err) {
      const mapped = options.mapError(err);
      if (mapped instanceof RpcError)
        return { status: { code: mapped.code, message: mapped.message } };
      options.onInternalError(err);
      return { status: { code: grpc.status.INTERNAL, message: 'internal error' } };
    }
  };
  return (call, callback) => {
    const calls = call.request.calls ?? [];
    if (calls.length > MAX_BATCH_CALLS) {
      callback({
        code: grpc.status.INVALID_ARGUMENT,
        details: `a batch holds at most ${MAX_BATCH_CALLS} calls`,
      } as grpc.ServiceError);
      return;
    }
    const run = options.sequential
      ? (async () => {
          const results: BatchResult<Res>[] = [];
          for (const c of calls) results.push(await one(c));
          return results;
        })()
      : Promise.all(calls.map(one));
    run.then(
      (results) => callback(null, { results }),
      (err: unknown) => {
        options.onInternalError(err);
        callback({ code: grpc.status.INTERNAL, details: 'internal error' } as grpc.ServiceError);
      },
    );
  };
}
