// The gRPC floor's server (`node floor-grpc-server.js`, a child process): one bidi-streaming
// method that echoes every message back, with no protobuf (payloads pass as raw bytes). Prints
// {"port":N} on stdout once listening.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerDuplexStream, ServiceDefinition } from '@grpc/grpc-js';

const raw = (b: Buffer) => b;

export const ECHO_SERVICE: ServiceDefinition = {
  echo: {
    path: '/tracechat.bench.Floor/Echo',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

if (require.main === module) {
  const server = new Server();
  server.addService(ECHO_SERVICE, {
    echo: (call: ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (payload: Buffer) => call.write(payload));
      call.on('end', () => call.end());
    },
  });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
