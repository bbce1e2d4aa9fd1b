import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess, freePort } from '@tracechat/testkit';

// A stand-in service: answers 200 on /readyz until killed.
const SERVICE = `require('node:http').createServer((_, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;

let dir: string;
const procs: ManagedProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracechat-supervisor-'));
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function service(name: string): Promise<{ proc: ManagedProcess; notices: string[] }> {
  const port = await freePort();
  const notices: string[] = [];
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: ['-e', SERVICE],
    cwd: dir,
    env: { PORT: String(port) },
    logFile: join(dir, `${name}.log`),
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    restart: { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 60_000 },
    onNotice: (m) => notices.push(m),
  });
  procs.push(proc);
  await proc.start();
  return { proc, notices };
}

const ready = async (proc: ManagedProcess) =>
  (await fetch(proc.spec.readyUrl, { signal: AbortSignal.timeout(1000) })).status;

describe('the stack supervisor', () => {
  it('restarts a service that crashes, with growing backoff, and says so in its log', async () => {
    const { proc, notices } = await service('crashy');
    const first = proc.pid;
    for (let i = 0; i < 3; i++) {
      const back = proc.waitRestarted(10_000);
      process.kill(proc.pid!, 'SIGKILL');
      await back;
    }
    expect(proc.pid).not.toBe(first);
    expect(proc.restarts).toBe(3);
    expect(await ready(proc)).toBe(200);
    expect(notices.filter((m) => m.includes('restarting in'))).toEqual([
      'crashy exited (SIGKILL); restarting in 100 ms',
      'crashy exited (SIGKILL); restarting in 200 ms',
      'crashy exited (SIGKILL); restarting in 400 ms',
    ]);
    expect(readFileSync(proc.spec.logFile, 'utf8')).toMatch(/\] crashy restarted \(pid \d+, restart 3\)/);
  });

  it('leaves a service stopped or killed on purpose down until it is started again', async () => {
    const { proc, notices } = await service('stopped');
    await proc.kill();
    await new Promise((r) => setTimeout(r, 600));
    expect(proc.running).toBe(false);
    await proc.start();
    expect(await ready(proc)).toBe(200);
    await proc.stop();
    await new Promise((r) => setTimeout(r, 600));
    expect(proc.running).toBe(false);
    expect(notices).toEqual([]);
  });
});
