// `tracechat <command> [options]`: the stack on this machine and the tools around it
// (../program.ts declares the commands).
import { runCli } from '../program';

// `tracechat trace … | head`: a reader that stops early is not an error
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
