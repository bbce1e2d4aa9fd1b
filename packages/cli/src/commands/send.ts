// `tracechat send [--user alice] [--session lobby] [--public] [--gateway ws://…] [--jaeger http://…] "text"`
// (`pnpm send …`): joins the session (creating it, public with --public), sends one message with a
// fresh client_msg_id and prints its trace id and where to see the trace.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { ChatClient } from '@tracechat/client';

export async function send(args: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      user: { type: 'string', default: 'alice' },
      session: { type: 'string', default: 'lobby' },
      gateway: { type: 'string', default: 'ws://127.0.0.1:8080/ws' },
      jaeger: { type: 'string', default: 'http://127.0.0.1:16686' },
      debug: { type: 'boolean', default: false },
      public: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const text = positionals.join(' ') || 'hello from tracechat';
  const token = signToken(values.user!, process.env.AUTH_SECRET || DEV_AUTH_SECRET, 600);
  const client = await ChatClient.connect(values.gateway!, { token });
  try {
    const joined = await client.request({
      type: 'join',
      session: values.session,
      public: values.public,
    });
    if (joined.type === 'error') throw new Error(`join failed: ${joined.code} ${joined.message}`);
    const ack = await client.request({
      type: 'send',
      session: values.session,
      text,
      client_msg_id: randomUUID(),
      debug: values.debug,
    });
    if (ack.type === 'error')
      throw new Error(`send failed: ${ack.code} ${ack.message} (trace ${ack.trace_id})`);
    console.log(`message ${ack.message_id} seq ${ack.seq}`);
    console.log(`trace_id ${ack.trace_id}`);
    console.log(`trace    ${values.jaeger}/api/traces/${ack.trace_id}`);
  } finally {
    await client.close();
  }
}
