// The no-op WebSocket server of the bench's floor (`node floor-ws-server.js`, a child process): it
// speaks just enough of protocol v1 for the load (join, send → ack, and a push of each send to
// the session's other connections) and does nothing else, so the load against it shows what the
// client, `ws` and JSON alone cost. Prints {"port":N} on stdout once listening.
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

const sessions = new Map<string, Set<WebSocket>>();
const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
let seq = 0;

server.on('connection', (socket) => {
  const joined = new Set<string>();
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    const session = String(frame.session);
    if (frame.type === 'join') {
      let members = sessions.get(session);
      if (!members) sessions.set(session, (members = new Set()));
      members.add(socket);
      joined.add(session);
      socket.send(JSON.stringify({ type: 'joined', id: frame.id, session, last_seq: 0 }));
    } else if (frame.type === 'send') {
      const message_id = `m${++seq}`;
      socket.send(JSON.stringify({ type: 'ack', id: frame.id, message_id, seq, trace_id: '' }));
      const push = JSON.stringify({
        type: 'message',
        session,
        message_id,
        seq,
        from: 'floor',
        text: frame.text,
        sent_at: new Date().toISOString(),
        trace_id: '',
      });
      for (const member of sessions.get(session) ?? []) if (member !== socket) member.send(push);
    } else if (frame.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong', id: frame.id }));
    }
  });
  socket.on('close', () => {
    for (const session of joined) sessions.get(session)?.delete(socket);
  });
});

server.on('listening', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object')
    process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
// the bench closes stdin when it is done (and if it dies)
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
