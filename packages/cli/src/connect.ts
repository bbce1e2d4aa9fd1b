import { ChatClient, UpgradeRefused } from '@tracechat/client';

/**
 * Opens a connection to a gateway, turning the usual failures into messages that say what to do:
 * nothing listening (start the stack), a refused upgrade (the token), a bad URL.
 */
export async function connectGateway(url: string, token: string): Promise<ChatClient> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error(`--gateway ${url} is not a URL; the stack's is ws://127.0.0.1:8080/ws`);
  }
  try {
    return await ChatClient.connect(target.toString(), { token });
  } catch (err) {
    if (err instanceof UpgradeRefused && err.status === 401)
      throw new Error(
        `the gateway at ${url} refused the token (401): the stack and this command use different AUTH_SECRETs; set the same AUTH_SECRET for both, or unset it for the development secret`,
      );
    if (err instanceof UpgradeRefused)
      throw new Error(`the gateway at ${url} refused the connection (HTTP ${err.status})`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED')
      throw new Error(`no gateway at ${url}: is the stack running? (pnpm start)`);
    throw new Error(`cannot connect to ${url}: ${(err as Error).message}`);
  }
}
