// `tracechat <command> [args]`: the stack on this machine and the tools around it.
import { bench } from '../commands/bench';
import { send } from '../commands/send';
import { soak } from '../commands/soak';
import { start } from '../commands/start';
import { token } from '../commands/token';

const COMMANDS: Record<string, (args: readonly string[]) => Promise<void>> = {
  start,
  token,
  send,
  bench,
  soak,
};

const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (!command) {
  console.error(`usage: tracechat <${Object.keys(COMMANDS).join('|')}> [args]`);
  process.exit(2);
}
command(args).catch((err: unknown) => {
  console.error(`${name}: ${(err as Error).message}`);
  process.exit(1);
});
