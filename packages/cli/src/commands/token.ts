// `tracechat token <user> [ttl-seconds]` (`pnpm -s token alice`): prints a client token, signed
// with the secret the stack checks (`userTokenSecret`: AUTH_SECRET, else the development secret).
import { isUserId, signToken } from '@tracechat/contracts';
import { UsageError, tokenSecret } from '../cli-env';
import type { Env } from '../cli-env';

export function token(options: { readonly user: string; readonly ttl: number }, env: Env): void {
  if (!isUserId(options.user))
    throw new UsageError(
      `${JSON.stringify(options.user)} is not a user id: 1–128 letters, digits, '.', '_', '@' or '-'`,
    );
  console.log(signToken(options.user, tokenSecret(env), options.ttl));
}
