import { mkdtempSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { DEV_AUTH_SECRET } from '@tracechat/contracts';
import { benchOptionsFrom } from '../src/bench/options';
import { UsageError, loadEnvFile, tokenSecret } from '../src/cli-env';
import { formatEntry } from '../src/commands/chat';
import { traceTarget } from '../src/journey-fetch';
import { followLogs, formatLogLine } from '../src/logs';
import { buildProgram, numberArg } from '../src/program';
import { Timeline } from '../src/timeline';
import type { ChatEntry } from '../src/timeline';

describe('numberArg', () => {
  it('takes numbers in range and refuses the rest with the rule', () => {
    expect(numberArg(0)('2.5')).toBe(2.5);
    expect(numberArg(1, true)('40')).toBe(40);
    for (const bad of ['', ' ', 'x', '0', '1.5', '-3', 'Infinity'])
      expect(() => numberArg(1, true)(bad)).toThrow(InvalidArgumentError);
    expect(() => numberArg(1, true)('0')).toThrow('expected an integer ≥ 1');
  });
});

describe('the bench options', () => {
  const parse = (args: string[]) => {
    const program = buildProgram();
    const bench = program.commands.find((c) => c.name() === 'bench')!;
    bench.action(() => undefined);
    program.parse(['bench', ...args], { from: 'user' });
    return benchOptionsFrom(bench.opts());
  };

  it('has the documented defaults', () => {
    expect(parse([])).toEqual({
      sessions: 20,
      rate: 500,
      inFlight: undefined,
      seconds: 15,
      warmup: 3,
      drain: 10,
      compare: false,
      collector: true,
      traces: 50,
      idleConnections: 0,
      floors: true,
      mqtt: false,
      env: {},
      json: false,
    });
  });

  it('reads every option, --env repeated and --no-* switches', () => {
    const options = parse([
      '--sessions',
      '4',
      '--in-flight',
      '2',
      '--rate',
      '0',
      '--seconds',
      '1.5',
      '--compare',
      '--no-collector',
      '--traces',
      '0',
      '--idle-connections',
      '100',
      '--no-floors',
      '--mqtt',
      '--env',
      'RATE_LIMIT_PER_SECOND=200',
      '--env',
      'A=b=c',
      '--json',
    ]);
    expect(options).toMatchObject({
      sessions: 4,
      inFlight: 2,
      rate: 0,
      seconds: 1.5,
      compare: true,
      collector: false,
      traces: 0,
      idleConnections: 100,
      floors: false,
      mqtt: true,
      env: { RATE_LIMIT_PER_SECOND: '200', A: 'b=c' },
      json: true,
    });
    // no load: no floors unless asked
    expect(parse(['--rate', '0']).floors).toBe(false);
    expect(parse(['--rate', '0', '--floors']).floors).toBe(true);
  });

  it('refuses a malformed --env as a usage error', () => {
    expect(() => benchOptionsFrom({ env: ['=x'] })).toThrow(UsageError);
  });
});

describe('traceTarget', () => {
  it('tells trace ids from message ids', () => {
    expect(traceTarget('4BF92F3577B34DA6A3CE929D0E0E4736')).toEqual({
      kind: 'trace',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(traceTarget('65cba422-5e0b-4a53-8f43-0d0f3f1c9b7e')).toEqual({
      kind: 'message',
      messageId: '65cba422-5e0b-4a53-8f43-0d0f3f1c9b7e',
    });
    for (const bad of ['', 'abc', '4bf92f3577b34da6a3ce929d0e0e473', "1' OR 1=1 --"])
      expect(traceTarget(bad)).toBeUndefined();
  });
});

describe('loadEnvFile and tokenSecret', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'tracechat-env-')), '.env');
    writeFileSync(path, text);
    return path;
  };

  it('adds the file’s variables beneath the shell’s', () => {
    const env: Record<string, string | undefined> = { KEEP: 'shell', EMPTY: '' };
    const set = loadEnvFile(file('KEEP=file\nEMPTY=file\nNEW="quoted value" # comment\n'), env);
    expect(env).toEqual({ KEEP: 'shell', EMPTY: 'file', NEW: 'quoted value' });
    expect(set.sort()).toEqual(['EMPTY', 'NEW']);
  });

  it('says which file is missing', () => {
    expect(() => loadEnvFile('/nonexistent/.env', {})).toThrow(
      '--env-file /nonexistent/.env: no such file',
    );
  });

  it('resolves the token secret as the stack does, a bad one as a usage error', () => {
    expect(tokenSecret({})).toBe(DEV_AUTH_SECRET);
    expect(tokenSecret({ AUTH_SECRET: 'k'.repeat(40) })).toBe('k'.repeat(40));
    expect(() => tokenSecret({ AUTH_SECRET: 'short' })).toThrow(UsageError);
  });
});

describe('Timeline', () => {
  const entry = (seq: number, id = `m${seq}`): ChatEntry => ({
    message_id: id,
    seq,
    from: 'alice',
    text: `text ${seq}`,
    sent_at: '2026-12-02T09:14:03.512Z',
    trace_id: 't',
  });
  const seqs = (entries: ChatEntry[]) => entries.map((e) => e.seq);

  it('shows each message once, in seq order, holding what comes after a gap', () => {
    const t = new Timeline();
    expect(seqs(t.offer(entry(1)))).toEqual([1]);
    expect(seqs(t.offer(entry(1)))).toEqual([]);
    expect(seqs(t.offer(entry(3)))).toEqual([]);
    expect(t.hasGap).toBe(true);
    expect(seqs(t.offer(entry(4)))).toEqual([]);
    expect(seqs(t.offer(entry(2)))).toEqual([2, 3, 4]);
    expect(t.hasGap).toBe(false);
    expect(t.last).toBe(4);
    expect(seqs(t.offer(entry(4, 'another id')))).toEqual([]);
  });

  it('starts after skipped history and drops what it covers', () => {
    const t = new Timeline();
    t.skipTo(10);
    expect(seqs(t.offer(entry(9)))).toEqual([]);
    expect(seqs(t.offer(entry(11)))).toEqual([11]);
  });

  it('prints a message as #seq time from: text, later lines indented', () => {
    expect(formatEntry({ ...entry(7), text: 'a\nb' })).toMatch(
      /^#7 \d\d:\d\d:\d\d alice: a\n {4}b$/,
    );
  });
});

describe('logs', () => {
  it('formats pino and Jaeger lines, leaves others as they are', () => {
    expect(
      formatLogLine('{"level":30,"time":1,"pid":2,"hostname":"h","msg":"listening","port":8080}'),
    ).toBe('INFO  listening port=8080');
    expect(formatLogLine('{"level":"warn","ts":1.5,"msg":"slow","caller":"x.go:1"}')).toBe(
      'WARN  slow',
    );
    expect(formatLogLine('plain text {')).toBe('plain text {');
  });

  it('follows files from their offsets, line by line, each under its service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracechat-logs-'));
    const a = join(dir, 'gateway-1.log');
    const b = join(dir, 'logic.log');
    writeFileSync(a, 'old line\n');
    const out: string[] = [];
    const stop = followLogs(
      [
        { name: 'gateway-1', path: a },
        { name: 'logic', path: b },
      ],
      (text) => out.push(text),
      { offsets: new Map([[a, 9]]), intervalMs: 20 },
    );
    appendFileSync(a, 'first\nhalf');
    appendFileSync(b, '{"level":50,"msg":"boom"}\n');
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(a, ' done\n');
    await new Promise((r) => setTimeout(r, 100));
    stop();
    const text = out.join('');
    expect(text).not.toContain('old line');
    expect(text).toContain('gateway-1 │ first\n');
    expect(text).toContain('gateway-1 │ half done\n');
    expect(text).toContain('logic     │ ERROR boom\n');
  });
});
