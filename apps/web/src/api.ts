/** The gateway's HTTP API, same origin as the page (docs/protocol.md, "HTTP API"). */

export interface WebConfig {
  readonly environment: string;
  readonly dev_sign_in: boolean;
  readonly gateway_id: string;
  readonly ws_path: string;
  readonly otlp_path: string;
  readonly jaeger_ui_url: string | null;
}

export interface TraceAnswer {
  readonly status: 'found' | 'pending' | 'not_sampled';
  readonly message: {
    readonly message_id: string;
    readonly session: string;
    readonly seq: number;
    readonly from: string;
    readonly sent_at: string;
    readonly trace_id: string;
  };
  readonly trace?: unknown;
  readonly jaeger_url: string | null;
}

/** A non-2xx answer, with the gateway's error code when it sent one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, { ...init, credentials: 'omit' });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body ?? {}) as { code?: string; message?: string };
    throw new ApiError(
      response.status,
      error.code ?? 'HTTP_' + response.status,
      error.message ?? `${path} answered ${response.status}`,
    );
  }
  return body as T;
}

export function fetchConfig(): Promise<WebConfig> {
  return call<WebConfig>('/api/config');
}

export function devToken(user: string): Promise<{ token: string; user: string }> {
  return call('/api/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
}

export function messageTrace(token: string, messageId: string): Promise<TraceAnswer> {
  return call<TraceAnswer>(`/api/messages/${encodeURIComponent(messageId)}/trace`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

/** The user id (`sub`) and expiry of a JWT, read without checking it (the gateway does that). */
export function tokenClaims(token: string): { user: string; expiresAt: number | null } | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sub?: unknown; exp?: unknown };
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    return {
      user: claims.sub,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
    };
  } catch {
    return null;
  }
}
