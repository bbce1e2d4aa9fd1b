import { FrameError } from '@tracechat/contracts';
import type { ErrorCode } from '@tracechat/contracts';
import { Status, isServiceError } from '@tracechat/protos';

const FROM_STATUS: Partial<Record<Status, ErrorCode>> = {
  [Status.PERMISSION_DENIED]: 'FORBIDDEN',
  [Status.NOT_FOUND]: 'NOT_FOUND',
  [Status.INVALID_ARGUMENT]: 'INVALID_FRAME',
  [Status.ALREADY_EXISTS]: 'CONFLICT',
  [Status.UNAUTHENTICATED]: 'UNAUTHORIZED',
  [Status.RESOURCE_EXHAUSTED]: 'RATE_LIMITED',
  [Status.UNAVAILABLE]: 'UNAVAILABLE',
  [Status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
};

/** The one place where failures of logic calls become protocol error codes. */
export function toFrameError(err: unknown, frameId: string | null): FrameError {
  if (err instanceof FrameError) return err;
  if (isServiceError(err)) {
    const code = FROM_STATUS[err.code] ?? 'INTERNAL';
    const message = code === 'INTERNAL' ? 'internal error' : err.details || code.toLowerCase();
    return new FrameError(code, message, frameId, { cause: err });
  }
  return new FrameError('INTERNAL', 'internal error', frameId, { cause: err });
}
