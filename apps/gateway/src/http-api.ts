/**
 * The gateway's HTTP API under `/api/` (docs/protocol.md, "HTTP API"), on the same port as `/ws`:
 * the web app's configuration, development sign-in, a message's trace and browser spans.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  Attr,
  HttpErrorCode,
  MetricName,
  TokenError,
  isUserId,
  IdRules,
  signToken,
  verifyToken,
} from '@tracechat/contracts';
import { incrementCounter } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { bearerToken, tokenRules } from './auth';
import { TooManySpans, forwardSpans, sanitizeBrowserSpans } from './browser-spans';
import type { GatewayConfig } from './config';
import { HttpError, sendHttpError } from './http-errors';
import { KeyedRateLimiter, remoteAddress } from './limits';
import { MessageTraces } from './message-trace';
import type { MessageTraceDeps } from './message-trace';

export const WS_PATH = '/ws';
export const OTLP_PATH = '/api/otlp/v1/traces';

/** Development tokens: 12 hours, or the longest lifetime the gateway accepts if shorter. */
const DEV_TOKEN_TTL_SECONDS = 12 * 3600;
/** Development sign-ins per remote address: a burst of 10, then one every 6 seconds. */
const DEV_TOKEN_RATE = { perSecond: 1 / 6, burst: 10 };
/** Browser spans per user: 1000 at once, 100 a second after that. */
const WEB_SPANS_RATE = { perSecond: 100, burst: 1000 };

export interface HttpApiDeps {
  readonly config: GatewayConfig;
  readonly logic: MessageTraceDeps['logic'];
  readonly log: Logger;
  /** Talks to Jaeger and the collector; the global fetch unless a test gives another. */
  readonly fetch?: typeof fetch;
}

/** Why browser spans were refused, by the status they were refused with (the metric's `reason`). */
const SPANS_REJECTED: Readonly<Record<number, string>> = {
  400: 'invalid',
  401: 'unauthorized',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'collector_unavailable',
};

/**
 * Registers `/api/*` on the public app: JSON errors `{"code","message"}` for every failure (and
 * a JSON 404 for unknown `/api/` paths), `Cache-Control: no-store` on every answer, no CORS.
 */
export function registerHttpApi(app: FastifyInstance, deps: HttpApiDeps): void {
  const { config, log } = deps;
  const rules = tokenRules(config);
  const development = config.environment === 'development';
  const traces = new MessageTraces({
    logic: deps.logic,
    jaegerQueryUrl: config.jaegerQueryUrl,
    jaegerUiUrl: config.jaegerUiUrl,
    pendingSeconds: config.tracePendingSeconds,
    fetch: deps.fetch,
  });
  const devTokens = new KeyedRateLimiter(DEV_TOKEN_RATE.perSecond, DEV_TOKEN_RATE.burst);
  const webSpans = new KeyedRateLimiter(WEB_SPANS_RATE.perSecond, WEB_SPANS_RATE.burst);
  /** Spans of each OTLP request once its body was read, for the metric of a refusal after it. */
  const spansOf = new WeakMap<FastifyRequest, number>();

  /** The user of a request's `Authorization: Bearer` token; HttpError 401 otherwise. */
  const userOf = (request: FastifyRequest): string => {
    const token = bearerToken(request.headers.authorization);
    try {
      if (!token) throw new TokenError('missing token');
      return verifyToken(token, config.authSecret, rules).userId;
    } catch (err) {
      throw new HttpError(
        401,
        HttpErrorCode.UNAUTHORIZED,
        'a valid token is required: Authorization: Bearer <token>',
        { 'www-authenticate': 'Bearer' },
        { cause: err },
      );
    }
  };

  const countSpans = (outcome: 'accepted' | 'rejected', reason: string, spans: number) =>
    incrementCounter(
      MetricName.GATEWAY_WEB_SPANS,
      { [Attr.GATEWAY_ID]: config.gatewayId, outcome, reason },
      spans,
      'Browser spans the OTLP endpoint forwarded to the collector or refused',
    );

  app.setErrorHandler((err, request, reply) => sendHttpError(err, reply, log, request));
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/')) {
      return sendHttpError(
        new HttpError(
          404,
          HttpErrorCode.NOT_FOUND,
          `no endpoint ${request.method} ${request.url.split('?')[0]}`,
        ),
        reply,
        log,
      );
    }
    return reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.get('/api/config', async () => ({
    environment: config.environment,
    dev_sign_in: development,
    gateway_id: config.gatewayId,
    ws_path: WS_PATH,
    otlp_path: OTLP_PATH,
    jaeger_ui_url: config.jaegerUiUrl ?? null,
  }));

  if (development) {
    const ttl = Math.min(DEV_TOKEN_TTL_SECONDS, config.authMaxTokenLifetimeSeconds);
    const claims = {
      ...(config.authIssuer ? { iss: config.authIssuer } : {}),
      ...(config.authAudience ? { aud: config.authAudience } : {}),
    };
    app.post('/api/dev/token', { bodyLimit: 1024 }, async (request) => {
      const address = remoteAddress(request.socket.remoteAddress);
      if (!devTokens.take(address)) {
        throw new HttpError(
          429,
          HttpErrorCode.RATE_LIMITED,
          'too many sign-ins, try again in a minute',
          {
            'retry-after': '10',
          },
        );
      }
      const user = (request.body as { user?: unknown } | undefined)?.user;
      if (!isUserId(user)) {
        throw new HttpError(400, HttpErrorCode.INVALID_REQUEST, `"user" must be ${IdRules.user}`);
      }
      log.info({ user, address }, 'development token issued');
      return {
        token: signToken(user, config.authSecret, ttl, Date.now(), claims),
        user,
        expires_in: ttl,
      };
    });
  }

  app.get<{ Params: { message_id: string } }>('/api/messages/:message_id/trace', async (request) =>
    traces.lookup(request.params.message_id, userOf(request)),
  );

  app.post(
    OTLP_PATH,
    {
      bodyLimit: config.webOtlpMaxBytes,
      // before the body is read: who sends it, and whether it is JSON
      onRequest: async (request) => {
        const user = userOf(request);
        if (!webSpans.allows(user)) {
          throw new HttpError(429, HttpErrorCode.RATE_LIMITED, 'too many spans, slow down', {
            'retry-after': '5',
          });
        }
        (request as FastifyRequest & { webUser?: string }).webUser = user;
      },
      preParsing: async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') {
          throw new HttpError(
            415,
            HttpErrorCode.UNSUPPORTED_MEDIA_TYPE,
            'browser spans are taken as OTLP JSON only: Content-Type: application/json',
          );
        }
      },
      errorHandler: (err, request, reply) => {
        const status =
          err instanceof HttpError ? err.status : (err as { statusCode?: number }).statusCode;
        if (err instanceof TooManySpans) countSpans('rejected', 'too_many_spans', err.spans);
        else {
          countSpans(
            'rejected',
            SPANS_REJECTED[status ?? 500] ?? 'error',
            spansOf.get(request) ?? 1,
          );
        }
        return sendHttpError(err, reply, log, request);
      },
    },
    async (request) => {
      const user = (request as FastifyRequest & { webUser?: string }).webUser!;
      const { payload, spans } = sanitizeBrowserSpans(request.body, user);
      spansOf.set(request, spans);
      if (!webSpans.take(user, spans)) {
        throw new HttpError(429, HttpErrorCode.RATE_LIMITED, 'too many spans, slow down', {
          'retry-after': '5',
        });
      }
      await forwardSpans(config.otlpTracesUrl, payload, deps.fetch);
      countSpans('accepted', 'forwarded', spans);
      return {};
    },
  );
}
