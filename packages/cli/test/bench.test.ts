import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The built command, as `pnpm bench` runs it. A smoke test: a short load on a stack of its own,
// checked for the shape of its JSON and for working end to end, not for timings.
const run = promisify(execFile);
const CLI = join(__dirname, '..', 'dist', 'bin', 'tracechat.js');
const SERVICES = [
  'jaeger',
  'collector',
  'placement',
  'journal-1',
  'journal-2',
  'logic',
  'task',
  'gateway-1',
  'gateway-2',
];

describe('tracechat bench', () => {
  it('prints its usage for --help, with every option', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'bench', '--help']);
    expect(stdout).toMatch(/^Usage: tracechat bench/);
    for (const flag of [
      '--sessions',
      '--rate',
      '--in-flight',
      '--seconds',
      '--warmup',
      '--compare',
      '--no-collector',
      '--idle-connections',
      '--no-floors',
      '--mqtt',
      '--json',
    ])
      expect(stdout).toContain(flag);
  });

  it('refuses an option it does not know', async () => {
    await expect(run(process.execPath, [CLI, 'bench', '--senders', '8'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown option '--senders'"),
    });
  });

  it('runs a short load and prints every figure as one JSON object', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        ...['bench', '--rate', '40', '--sessions', '2', '--seconds', '3', '--warmup', '1'],
        ...['--drain', '20', '--traces', '10', '--no-floors', '--json'],
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 150_000 },
    );
    const report = JSON.parse(stdout);
    expect(report.options).toMatchObject({
      rate: 40,
      sessions: 2,
      seconds: 3,
      inFlight: null,
      floors: false,
    });
    expect(report.ratios).toBeNull();
    expect(report.floors).toBeNull();
    expect(report.runs).toHaveLength(1);
    const [traced] = report.runs;
    expect(traced).toMatchObject({ label: 'traced', telemetry: true, collector: true });

    const load = traced.load;
    expect(load).toMatchObject({ mode: 'open', sessions: 2, targetRate: 40 });
    expect(load.errors).toEqual({ total: 0, byKind: {} });
    expect(load.window.sent).toBeGreaterThan(0);
    expect(load.window.delivered).toBeGreaterThan(0);
    expect(load.deliveredPerSecond).toBeGreaterThan(0);
    // every message of the whole run was acked and pushed once
    expect(load.acked).toBe(load.sent);
    expect(load.delivered).toBe(load.sent);
    for (const latency of [load.ack, load.push]) {
      expect(latency.count).toBeGreaterThan(0);
      expect(latency.p50).toBeGreaterThan(0);
      expect(latency.p99).toBeGreaterThanOrEqual(latency.p50);
      expect(latency.max).toBeGreaterThanOrEqual(latency.p99);
    }

    const cpuNames = traced.cpu.processes.map((p: { name: string }) => p.name);
    expect(cpuNames).toEqual(expect.arrayContaining([...SERVICES, 'postgres', 'redis', 'nats']));
    for (const p of traced.cpu.processes) expect(p.cpuMs).toBeGreaterThanOrEqual(0);
    expect(traced.cpu.totalMs).toBeGreaterThan(0);
    expect(traced.cpu.msPerMessage).toBeGreaterThan(0);
    for (const name of SERVICES)
      expect(traced.memory.find((m: { name: string }) => m.name === name).kb).toBeGreaterThan(0);

    const instances = traced.spans.services.map((s: { instance: string }) => s.instance);
    expect(instances).toEqual(
      expect.arrayContaining([expect.stringMatching(/^gateway-1/), 'logic-1', 'task-1']),
    );
    for (const s of traced.spans.services) expect(s.exported).toBeGreaterThan(0);
    expect(traced.spans.collector.receiver_accepted).toBeGreaterThan(0);
    expect(typeof traced.spans.lost).toBe('number');

    expect(traced.hops.complete).toBeGreaterThan(0);
    const total = traced.hops.hops.find((h: { name: string }) => h.name.startsWith('total'));
    expect(total.medianMs).toBeGreaterThan(0);
  }, 160_000);

  it('with --mqtt, senders publish over MQTT and every message reaches its WebSocket receiver', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        ...[
          'bench',
          '--mqtt',
          '--rate',
          '20',
          '--sessions',
          '2',
          '--seconds',
          '2',
          '--warmup',
          '1',
        ],
        ...['--drain', '10', '--traces', '0', '--no-collector', '--no-floors', '--json'],
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
    );
    const report = JSON.parse(stdout);
    expect(report.options).toMatchObject({ mqtt: true, rate: 20, sessions: 2 });
    const load = report.runs[0].load;
    expect(load).toMatchObject({ mode: 'open', sender: 'mqtt', sessions: 2, targetRate: 20 });
    expect(load.errors).toEqual({ total: 0, byKind: {} });
    expect(load.window.sent).toBeGreaterThan(0);
    // every publish got its PUBACK and was pushed once to the WebSocket receiver
    expect(load.acked).toBe(load.sent);
    expect(load.delivered).toBe(load.sent);
    expect(load.push.p50).toBeGreaterThan(0);
  }, 130_000);
});
