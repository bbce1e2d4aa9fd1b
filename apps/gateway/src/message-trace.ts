/**
 * The trace of one message, for a member of its session: logic says whether the caller may see
 * the message (and gives its trace id), then Jaeger's query API is read server-side, so a browser
 * never talks to Jaeger and sees only the traces of messages it could read.
 */
import { HttpErrorCode, isMessageId } from '@tracechat/contracts';
import { Status, isServiceError } from '@tracechat/protos';
import type { GetMessageRequest, GetMessageResponse__Output } from '@tracechat/protos';
import { HttpError } from './http-errors';

/** How long Jaeger has to answer before the client is told 503. */
export const JAEGER_TIMEOUT_MS = 3000;

export const TraceStatus = {
  /** Jaeger has the trace. */
  FOUND: 'found',
  /** No trace yet, and the message is recent: its spans may still be on their way. */
  PENDING: 'pending',
  /** No trace, and the message is older than the pending window: sampling dropped it. */
  NOT_SAMPLED: 'not_sampled',
} as const;
export type TraceStatus = (typeof TraceStatus)[keyof typeof TraceStatus];

/** The answer of `GET /api/messages/:message_id/trace` (docs/protocol.md, "HTTP API"). */
export interface MessageTrace {
  readonly status: TraceStatus;
  readonly message: {
    readonly message_id: string;
    readonly session: string;
    readonly seq: number;
    readonly from: string;
    readonly sent_at: string;
    readonly trace_id: string;
  };
  /** Jaeger's trace (`data[0]` of `/api/traces/{id}`), present only when found. */
  readonly trace?: unknown;
  readonly jaeger_url: string | null;
}

export interface MessageTraceDeps {
  readonly logic: {
    getMessage(req: GetMessageRequest): Promise<GetMessageResponse__Output>;
  };
  readonly jaegerQueryUrl: string;
  readonly jaegerUiUrl: string | undefined;
  readonly pendingSeconds: number;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;

function notFound(): HttpError {
  return new HttpError(404, HttpErrorCode.NOT_FOUND, 'no such message, or not one you may see');
}

/** Finds messages' traces for the users who may see them. */
export class MessageTraces {
  constructor(private readonly deps: MessageTraceDeps) {}

  /**
   * The trace of `messageId` for `userId`. Throws HttpError 404 when the message does not exist
   * or the user is not a member of its session (one answer for both), 503 when logic or Jaeger
   * cannot answer.
   */
  async lookup(messageId: string, userId: string): Promise<MessageTrace> {
    if (!isMessageId(messageId)) throw notFound();
    let found: GetMessageResponse__Output;
    try {
      found = await this.deps.logic.getMessage({ messageId, userId });
    } catch (err) {
      throw fromLogic(err);
    }
    const m = found.message;
    if (!m) throw notFound();
    const traceId = TRACE_ID.test(m.traceId) ? m.traceId : '';
    const message = {
      message_id: m.messageId,
      session: m.sessionId,
      seq: m.seq,
      from: m.senderId,
      sent_at: new Date(m.sentAtMs).toISOString(),
      trace_id: traceId,
    };
    const jaegerUrl =
      traceId && this.deps.jaegerUiUrl ? `${this.deps.jaegerUiUrl}/trace/${traceId}` : null;
    const trace = traceId ? await this.readJaeger(traceId) : undefined;
    if (trace !== undefined) {
      return { status: TraceStatus.FOUND, message, trace, jaeger_url: jaegerUrl };
    }
    const ageMs = (this.deps.now ?? Date.now)() - m.sentAtMs;
    const status =
      traceId && ageMs < this.deps.pendingSeconds * 1000
        ? TraceStatus.PENDING
        : TraceStatus.NOT_SAMPLED;
    return { status, message, jaeger_url: jaegerUrl };
  }

  /** Jaeger's trace, or undefined when it has none; HttpError 503 when it cannot be read. */
  private async readJaeger(traceId: string): Promise<unknown> {
    const fetchImpl = this.deps.fetch ?? fetch;
    let response: Response;
    try {
      response = await fetchImpl(`${this.deps.jaegerQueryUrl}/api/traces/${traceId}`, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.deps.timeoutMs ?? JAEGER_TIMEOUT_MS),
      });
    } catch (err) {
      throw unavailable('Jaeger is unreachable', err);
    }
    if (response.status === 404) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    if (!response.ok) {
      await response.arrayBuffer().catch(() => undefined);
      throw unavailable(`Jaeger answered ${response.status}`);
    }
    let body: { data?: unknown };
    try {
      body = (await response.json()) as { data?: unknown };
    } catch (err) {
      throw unavailable('Jaeger answered something that is not JSON', err);
    }
    const traces = Array.isArray(body?.data) ? (body.data as unknown[]) : [];
    const trace = traces[0] as { spans?: unknown[] } | undefined;
    return trace && Array.isArray(trace.spans) && trace.spans.length > 0 ? trace : undefined;
  }
}

function unavailable(message: string, cause?: unknown): HttpError {
  return new HttpError(503, HttpErrorCode.UNAVAILABLE, message, { 'retry-after': '5' }, { cause });
}

/** Logic's refusals as the endpoint answers them; NOT_FOUND and a malformed id alike are 404. */
function fromLogic(err: unknown): Error {
  if (!isServiceError(err)) return err as Error;
  switch (err.code) {
    case Status.NOT_FOUND:
    case Status.INVALID_ARGUMENT:
    case Status.PERMISSION_DENIED:
      return notFound();
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
      return unavailable('the chat service is unavailable', err);
    default:
      return err;
  }
}
