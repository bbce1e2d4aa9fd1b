// The built `tracechat` command as a person runs it: every command explains itself with --help,
// and a wrong call says what was wrong and where to look, with exit code 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyToken } from '@tracechat/contracts';

const BIN = join(__dirname, '..', 'bin', 'tracechat.js');

function run(args: string[], env: Record<string, string | undefined> = {}) {
  // `--` as the package scripts and the bin's own start line pass it (see bin/tracechat.js)
  const result = spawnSync(process.execPath, [BIN, '--', ...args], {
    encoding: 'utf8',
    env: { ...process.env, AUTH_SECRET: undefined, ENVIRONMENT: undefined, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Each command with options its help must list. */
const COMMANDS: [string, string[]][] = [
  ['start', ['--env-file <file>', '--logs', '--no-collector', 'http://127.0.0.1:8080/']],
  ['token', ['<user>', '[ttl-seconds]', '--env-file']],
  ['send', ['--user', '--session', '--public', '--gateway', '--debug', '--jaeger']],
  [
    'chat',
    [
      '--user',
      '--session',
      '--gateway',
      '--public',
      '--history',
      '/history',
      '/invite',
      '/trace',
      '/debug',
      '/quit',
    ],
  ],
  ['trace', ['<message-id|trace-id>', '--jaeger', '--database-url', '--wait', '--no-color']],
  [
    'bench',
    [
      '--sessions',
      '--rate',
      '--in-flight',
      '--seconds',
      '--compare',
      '--no-collector',
      '--env <key=value>',
      '--json',
    ],
  ],
  ['soak', ['--seconds', '--sessions', '--senders', '--pause']],
];

describe('tracechat --help', () => {
  it('lists every command and exits 0', () => {
    const { code, stdout } = run(['--help']);
    expect(code).toBe(0);
    for (const [name] of COMMANDS) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it.each(COMMANDS)('tracechat %s --help lists its options and starts nothing', (name, options) => {
    const started = Date.now();
    const { code, stdout, stderr } = run([name, '--help']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: tracechat ${name}`);
    for (const option of options) expect(stdout).toContain(option);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('tracechat usage errors', () => {
  it.each(COMMANDS.map(([name]) => name))(
    '%s with an unknown option exits 2 and points at --help',
    (name) => {
      const required = name === 'chat' ? ['--user', 'alice', '--session', 'lobby'] : [];
      const { code, stderr, stdout } = run([name, ...required, '--no-such-option']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain("unknown option '--no-such-option'");
      expect(stderr).toContain(`tracechat ${name} --help`);
    },
  );

  it('an unknown command exits 2, suggests the near one and points at --help', () => {
    const { code, stderr } = run(['chta']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'chta'");
    expect(stderr).toContain('chat');
    expect(stderr).toContain('tracechat --help');
  });

  it('no command prints the help on stderr and exits 2', () => {
    const { code, stderr } = run([]);
    expect(code).toBe(2);
    expect(stderr).toContain('Usage: tracechat <command>');
  });

  it.each([
    [['chat', '--user', 'alice'], "required option '-s, --session <session>' not specified"],
    [['trace'], "missing required argument 'message-id|trace-id'"],
    [['trace', 'not-an-id'], 'neither a message id'],
    [['bench', '--rate', 'fast'], 'expected a number ≥ 0'],
    [['bench', '--env', 'NOEQUALS'], '--env takes KEY=VALUE'],
    [['token', 'alice', '-5'], 'expected an integer ≥ 1'],
    [['token', 'not a user'], 'is not a user id'],
    [['chat', '--user', 'alice', '--session', 'no spaces'], 'is not a session id'],
    [
      ['token', 'alice', '--env-file', '/nonexistent/.env'],
      '--env-file /nonexistent/.env: no such file',
    ],
  ])('%j exits 2 saying %p', (args, message) => {
    const { code, stderr } = run(args);
    expect(stderr).toContain(message);
    expect(stderr).toMatch(/--help/);
    expect(code).toBe(2);
  });
});

describe('tracechat token: the secret the stack uses', () => {
  const strong = 'a-shell-secret-of-thirty-two-characters!';

  it('signs with the development secret when AUTH_SECRET is unset or empty', () => {
    for (const env of [{}, { AUTH_SECRET: '' }]) {
      const { code, stdout } = run(['token', 'alice'], env);
      expect(code).toBe(0);
      expect(verifyToken(stdout.trim(), 'tracechat-dev-secret').userId).toBe('alice');
    }
  });

  it('signs with AUTH_SECRET from the shell, which wins over --env-file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracechat-env-'));
    const file = join(dir, '.env');
    const fromFile = 'a-file-secret-that-is-long-enough-too';
    writeFileSync(file, `# local settings\nAUTH_SECRET="${fromFile}"\n`);
    const shell = run(['token', 'bob', '60'], { AUTH_SECRET: strong });
    expect(verifyToken(shell.stdout.trim(), strong).userId).toBe('bob');
    const fromEnvFile = run(['token', 'bob', '--env-file', file]);
    expect(verifyToken(fromEnvFile.stdout.trim(), fromFile).userId).toBe('bob');
    const both = run(['token', 'bob', '--env-file', file], { AUTH_SECRET: strong });
    expect(verifyToken(both.stdout.trim(), strong).userId).toBe('bob');
  });

  it('refuses a secret no gateway would take, and production without one', () => {
    const short = run(['token', 'alice'], { AUTH_SECRET: 'short' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('AUTH_SECRET must be at least 32 characters');
    const production = run(['token', 'alice'], { ENVIRONMENT: 'production' });
    expect(production.code).toBe(2);
    expect(production.stderr).toContain('AUTH_SECRET is required');
  });
});

describe('the bin as installed', () => {
  it('runs through its own start line, --env-file included', () => {
    const result = spawnSync(BIN, ['token', 'alice', '--env-file', '/nonexistent/.env'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toContain('--env-file /nonexistent/.env: no such file');
    expect(result.status).toBe(2);
  });
});
