import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HttpErrorCode } from '@tracechat/contracts';
import type { Logger } from '@tracechat/telemetry';

/** A refusal of an HTTP API request: its status and the `{"code","message"}` body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** fastify's own refusals (body parsing and limits) by status, in the API's codes. */
const FROM_FASTIFY: Readonly<Record<number, HttpErrorCode>> = {
  400: HttpErrorCode.INVALID_REQUEST,
  404: HttpErrorCode.NOT_FOUND,
  413: HttpErrorCode.TOO_LARGE,
  415: HttpErrorCode.UNSUPPORTED_MEDIA_TYPE,
};

/** Messages of fastify's refusals in the API's words (its own name internals such as FST_…). */
const FASTIFY_MESSAGES: Readonly<Record<number, string>> = {
  400: 'the body is not valid JSON',
  413: 'the body is over the size limit',
  415: 'the body must be application/json',
};

/**
 * The one place where failures of HTTP API requests become responses: an HttpError as it says,
 * fastify's refusals (an unparsable body, a body over the limit, an unknown content type) with
 * their status, anything else a 500 INTERNAL that is logged and tells the client nothing.
 */
export function sendHttpError(
  err: unknown,
  reply: FastifyReply,
  log: Logger,
  request?: FastifyRequest,
): FastifyReply {
  let status = 500;
  let code: HttpErrorCode = HttpErrorCode.INTERNAL;
  let message = 'internal error';
  if (err instanceof HttpError) {
    ({ status, code, message } = err);
    reply.headers(err.headers);
  } else {
    const fastifyStatus = (err as Partial<FastifyError>).statusCode;
    const known = fastifyStatus === undefined ? undefined : FROM_FASTIFY[fastifyStatus];
    if (fastifyStatus !== undefined && known) {
      status = fastifyStatus;
      code = known;
      message = FASTIFY_MESSAGES[fastifyStatus] ?? code.toLowerCase();
    } else {
      log.error(
        { err, method: request?.method, route: request?.routeOptions.url },
        'http request failed',
      );
    }
  }
  return reply.code(status).header('cache-control', 'no-store').send({ code, message });
}
