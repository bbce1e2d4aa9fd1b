// The `tracechat` command line: one commander program with a subcommand per tool. Every command
// and option is declared here, so `--help` lists them all and a mistake in a call is answered the
// same way everywhere: what was wrong, where to look, exit code 2.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { USAGE_NOTES as BENCH_NOTES, benchOptionsFrom } from './bench/options';
import type { BenchValues } from './bench/options';
import { UsageError, loadEnvFile } from './cli-env';
import { bench } from './commands/bench';
import { chat } from './commands/chat';
import { send } from './commands/send';
import { soak } from './commands/soak';
import { start } from './commands/start';
import { token } from './commands/token';
import { trace } from './commands/trace';

/** Exit codes: 0 done, 1 the work failed, 2 the call was wrong. */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** A number option's parser: rejects what is not a number ≥ min (an integer when asked). */
export function numberArg(min: number, integer = false): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} ≥ ${min}.`);
    return n;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const envFileOption = () =>
  new Option('--env-file <file>', 'read variables from a dotenv file first (the shell’s own win)');

/** Runs the command with --env-file applied first. */
function action<A extends unknown[]>(run: (...args: A) => Promise<void> | void) {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const envFile = command.opts<{ envFile?: string }>().envFile;
    if (envFile !== undefined) loadEnvFile(envFile);
    await run(...args);
  };
}

/** The program; `tracechat <command> --help` describes each command. */
export function buildProgram(): Command {
  const program = new Command('tracechat')
    .description(
      'Run tracechat on this machine, chat from the terminal and follow any message end to end in its trace.',
    )
    .usage('<command> [options]')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText(
      'after',
      `
Through pnpm: pnpm start | chat | send | trace | token | bench | soak [options]
Examples:
  pnpm start                                         the stack; open http://127.0.0.1:8080/
  pnpm chat --user alice --session lobby             chat in the terminal
  pnpm send --user bob --session lobby --debug "hi"  one message whose trace is always kept
  pnpm trace <message-id>                            that message's journey
Every command takes --help.
`,
    );

  program
    .command('start')
    .summary('run the whole stack on this machine (web chat at http://127.0.0.1:8080/)')
    .description(
      'Run the whole stack natively (Jaeger, the collector tier, placement, two journal nodes, logic, task, two gateways) until Ctrl-C. The first start builds Jaeger from source (a few minutes, once).',
    )
    .addOption(envFileOption())
    .option('--logs', 'once up, follow every service’s log here, one colour per service')
    .option(
      '--no-collector',
      'no collector tier: services export straight to Jaeger, every trace kept',
    )
    .addHelpText(
      'after',
      '\nThe web chat is then at http://127.0.0.1:8080/ and Jaeger’s API at http://127.0.0.1:16686.\nLogs are in .stack/logs; AUTH_SECRET, when set, is the gateways’ token secret (pnpm token uses the same).',
    )
    .action(
      action(async (opts: { logs?: boolean; collector: boolean }) => {
        await start({ logs: opts.logs === true, collector: opts.collector }, process.env);
      }),
    );

  program
    .command('token')
    .summary('print a client token for a user')
    .description(
      'Print a client token (HS256 JWT) for a user, signed with AUTH_SECRET or the development secret, as the stack checks it.',
    )
    .argument('<user>', 'user id (letters, digits, . _ @ -)')
    .argument('[ttl-seconds]', 'lifetime in seconds', numberArg(1, true), 24 * 3600)
    .addOption(envFileOption())
    .addHelpText('after', '\nExample: pnpm -s token alice 3600')
    .action(
      action(async (user: string, ttl: number) => {
        token({ user, ttl }, process.env);
      }),
    );

  program
    .command('send')
    .summary('send one message and print its ids')
    .description(
      'Join a session (creating it) and send one message; prints its id, seq and trace id.',
    )
    .argument('[text...]', 'the message', ['hello from tracechat'])
    .option('-u, --user <user>', 'who sends', 'alice')
    .option('-s, --session <session>', 'the session', 'lobby')
    .option('--public', 'create the session public (when it does not exist yet)')
    .option('--gateway <url>', 'gateway WebSocket URL', 'ws://127.0.0.1:8080/ws')
    .option('--jaeger <url>', 'Jaeger query URL (JAEGER_QUERY_URL)')
    .option('--debug', 'mark the send debug: its trace is always kept')
    .addOption(envFileOption())
    .addHelpText(
      'after',
      '\nExample: pnpm send --user alice --session lobby "hello"   then: pnpm trace <message id>',
    )
    .action(
      action(
        async (
          words: string[],
          opts: {
            user: string;
            session: string;
            public?: boolean;
            gateway: string;
            jaeger?: string;
            debug?: boolean;
          },
        ) => {
          await send({ ...opts, text: words.join(' ') }, process.env);
        },
      ),
    );

  program
    .command('chat')
    .summary('chat in the terminal: live messages, /history, /invite, /trace')
    .description(
      'Chat from the terminal: join a session (creating it), see its recent history and new messages live, type lines to send them. Reconnects by itself and fills gaps.',
    )
    .requiredOption('-u, --user <user>', 'who you are')
    .requiredOption('-s, --session <session>', 'the session to join')
    .option('--public', 'create the session public (when it does not exist yet)')
    .option('--gateway <url>', 'gateway WebSocket URL', 'ws://127.0.0.1:8080/ws')
    .option('--history <n>', 'messages of history shown on joining', numberArg(0, true), 20)
    .option('--jaeger <url>', 'Jaeger query URL for /trace (JAEGER_QUERY_URL)')
    .option('--database-url <url>', 'Postgres for /trace of a message id (DATABASE_URL)')
    .addOption(envFileOption())
    .addHelpText(
      'after',
      `
While chatting:
  <text>              send a line (retried with the same client_msg_id until acknowledged)
  /history [n]        the last n messages (20)
  /invite USER        add USER to the session
  /leave              leave the session and quit
  /trace [message-id] the journey of the last message, or of the given one, as a waterfall
  /debug              send the next message with debug: its trace is always kept
  /help               these commands
  /quit               quit (also Ctrl-D)

Example: pnpm chat --user alice --session design-review`,
    )
    .action(
      action(
        async (opts: {
          user: string;
          session: string;
          public?: boolean;
          gateway: string;
          history: number;
          jaeger?: string;
          databaseUrl?: string;
        }) => {
          await chat(opts, process.env);
        },
      ),
    );

  program
    .command('trace')
    .summary("a message's journey as a waterfall in the terminal")
    .description(
      'Print the journey of a message as a waterfall: every span with its service, offset and duration, the critical path and the hops from sender to recipients.',
    )
    .argument(
      '<message-id|trace-id>',
      'a message id (looked up in Postgres) or a trace id (32 hex digits)',
    )
    .option('--jaeger <url>', 'Jaeger query URL (JAEGER_QUERY_URL)')
    .option('--database-url <url>', 'Postgres holding the messages (DATABASE_URL)')
    .option('--wait <seconds>', 'how long to wait for the trace to reach Jaeger', numberArg(0), 10)
    .option(
      '--width <columns>',
      'line width (default: the terminal’s, else 100)',
      numberArg(60, true),
    )
    .option('--color', 'colour the bars by service (default on a terminal)')
    .option('--no-color', 'plain text')
    .addOption(envFileOption())
    .addHelpText('after', '\nExample: pnpm trace 65cba422-5e0b-4a53-8f43-0d0f3f1c9b7e')
    .action(
      action(
        async (
          id: string,
          opts: {
            jaeger?: string;
            databaseUrl?: string;
            wait: number;
            width?: number;
            color?: boolean;
          },
        ) => {
          const ok = await trace(id, opts, process.env);
          if (!ok) process.exitCode = ExitCode.FAILED;
        },
      ),
    );

  program
    .command('bench')
    .summary('measure the stack under load (a stack of its own)')
    .description(
      'Start a stack of its own on free ports, drive chat traffic through it and print latency, throughput, errors, CPU and memory, spans lost, where a message’s time goes, and the floors of the machine.',
    )
    .option('--sessions <n>', 'sessions (sender + receiver pairs)', numberArg(1, true), 20)
    .option(
      '--rate <r>',
      'total messages/s over all sessions, open loop; 0: no load',
      numberArg(0),
      500,
    )
    .option(
      '--in-flight <k>',
      'closed loop instead: each sender keeps k sends waiting for their ack',
      numberArg(1, true),
    )
    .option('--seconds <s>', 'measured seconds', numberArg(0.1), 15)
    .option('--warmup <s>', 'seconds of load before, whose samples are discarded', numberArg(0), 3)
    .option('--drain <s>', 'longest wait after the last send for acks and pushes', numberArg(0), 10)
    .option('--compare', 'run untraced then traced, each on a fresh stack, and print the ratios')
    .option('--no-collector', 'services export straight to Jaeger (no collector tier)')
    .option(
      '--traces <n>',
      'measured messages whose traces give the per-hop breakdown',
      numberArg(0, true),
      50,
    )
    .option(
      '--idle-connections <n>',
      'afterwards open n idle connections to gateway-1 and print its memory per connection',
      numberArg(0, true),
      0,
    )
    .option(
      '--floors',
      'measure the floors (no-op WebSocket server, bare gRPC stream); default with load',
    )
    .option('--no-floors', 'do not measure the floors')
    .option(
      '--mqtt',
      'senders publish over MQTT 5 (QoS 1) to gateway-1; receivers stay on the WebSocket',
    )
    .option('--env <key=value>', 'extra environment for every service (repeatable)', collect)
    .option('--json', 'print one JSON object with every figure on stdout; progress stays on stderr')
    .addHelpText('after', `\n${BENCH_NOTES}`)
    .action(
      action(async (opts: BenchValues) => {
        const options = benchOptionsFrom(opts);
        await bench(options);
      }),
    );

  program
    .command('soak')
    .summary('the fault soak (a stack of its own)')
    .description(
      'The fault soak: a stack of its own, senders and receivers on both gateways while logic, task, a journal node, a gateway and NATS are killed and restarted; fails when an acknowledged message is lost, duplicated or out of order.',
    )
    .option('--seconds <s>', 'how long', numberArg(1), 120)
    .option('--sessions <n>', 'sessions', numberArg(1, true), 4)
    .option('--senders <n>', 'senders per gateway', numberArg(1, true), 2)
    .option('--pause <ms>', 'pause between one sender’s messages', numberArg(0), 100)
    .action(
      action(
        async (opts: { seconds: number; sessions: number; senders: number; pause: number }) => {
          if (!(await soak(opts))) process.exitCode = ExitCode.FAILED;
        },
      ),
    );

  for (const command of program.commands) {
    command.showHelpAfterError(`(run 'tracechat ${command.name()} --help' to see what it takes)`);
    command.allowExcessArguments(false);
  }
  program.showHelpAfterError("(run 'tracechat --help' to see the commands)");
  return program;
}

/**
 * Runs the program on `argv` (without node and the script) and resolves with the exit code:
 * 0 done (or help shown), 1 the work failed, 2 a wrong call (unknown command or option, bad
 * value, missing argument), each said on stderr with what to run for help.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // the package scripts run `tracechat.js -- <command> …`: Node 20 reads an `--env-file` anywhere
  // on its command line, even after the script, and stops at `--`
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
        return ExitCode.OK;
      return ExitCode.USAGE;
    }
    const name = program.args[0] ?? 'tracechat';
    if (err instanceof UsageError) {
      process.stderr.write(
        `tracechat ${name}: ${err.message}\n(run 'tracechat ${name} --help' to see what it takes)\n`,
      );
      return ExitCode.USAGE;
    }
    process.stderr.write(`tracechat ${name}: ${(err as Error).message}\n`);
    return ExitCode.FAILED;
  }
}
