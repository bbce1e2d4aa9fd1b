import { Status, isServiceError } from '@tracechat/protos';
import { FrameError } from './frames';
import type { ErrorCode } from './frames';

/** The one place where failures of logic calls become protocol error codes. */
export function toFrameError(err: unknown, frameId: string | null): FrameError {
  if (err instanceof FrameError) return err;
  if (isServiceError(err)) {
    const code: ErrorCode =
      err.code === Status.PERMISSION_DENIED
        ? 'FORBIDDEN'
        : err.code === Status.NOT_FOUND
          ? 'NOT_FOUND'
          : err.code === Status.INVALID_ARGUMENT
            ? 'INVALID_FRAME'
            : err.code === Status.UNAUTHENTICATED
              ? 'UNAUTHORIZED'
              : err.code === Status.RESOURCE_EXHAUSTED
                ? 'RATE_LIMITED'
                : err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED
                  ? 'UNAVAILABLE'
                  : 'INTERNAL';
    const message = code === 'INTERNAL' ? 'internal error' : err.details || code.toLowerCase();
    return new FrameError(code, message, frameId, { cause: err });
  }
  return new FrameError('INTERNAL', 'internal error', frameId, { cause: err });
}
