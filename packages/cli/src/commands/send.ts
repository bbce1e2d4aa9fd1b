// `tracechat send [--user alice] [--session lobby] [--public] [--debug] "text"` (`pnpm send …`):
// joins the session (creating it, public with --public), sends one message with a fresh
// client_msg_id and prints its ids and how to see its journey.
import { randomUUID } from 'node:crypto';
import { connectGateway } from '../connect';
import { signToken } from '@tracechat/contracts';
import { Defaults, envValue, tokenSecret } from '../cli-env';
import type { Env } from '../cli-env';

export interface SendOptions {
  readonly user: string;
  readonly session: string;
  readonly text: string;
  readonly public?: boolean;
  readonly gateway: string;
  readonly jaeger?: string;
  readonly debug?: boolean;
}

export async function send(options: SendOptions, env: Env): Promise<void> {
  const jaeger = options.jaeger ?? envValue(env, 'JAEGER_QUERY_URL', Defaults.JAEGER_QUERY_URL);
  const token = signToken(options.user, tokenSecret(env), 600);
  const client = await connectGateway(options.gateway, token);
  try {
    const joined = await client.request({
      type: 'join',
      session: options.session,
      public: options.public === true,
    });
    if (joined.type === 'error') throw new Error(`join failed: ${joined.code} ${joined.message}`);
    const ack = await client.request({
      type: 'send',
      session: options.session,
      text: options.text,
      client_msg_id: randomUUID(),
      debug: options.debug === true,
    });
    if (ack.type === 'error')
      throw new Error(`send failed: ${ack.code} ${ack.message} (trace ${ack.trace_id})`);
    console.log(`message ${ack.message_id} seq ${ack.seq}`);
    console.log(`trace_id ${ack.trace_id}`);
    console.log(`trace    ${jaeger}/api/traces/${ack.trace_id}`);
    console.log(`journey  pnpm trace ${ack.message_id}`);
  } finally {
    await client.close();
  }
}
