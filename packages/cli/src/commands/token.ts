// `tracechat token <user> [ttl-seconds]` (`pnpm token`): prints a dev JWT (HS256, AUTH_SECRET or
// the dev secret).
import { DEV_AUTH_SECRET, isUserId, signToken } from '@tracechat/contracts';

export function token(args: readonly string[]): Promise<void> {
  const [user, ttl] = args;
  if (!isUserId(user)) {
    console.error('usage: pnpm token <user-id> [ttl-seconds]');
    process.exit(2);
  }
  const secret = process.env.AUTH_SECRET || DEV_AUTH_SECRET;
  console.log(signToken(user, secret, ttl ? Number(ttl) : 24 * 3600));
  return Promise.resolve();
}
