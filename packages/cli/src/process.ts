import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly logFile: string;
  /** URL that answers 200 once the process is ready. */
  readonly readyUrl: string;
}

/** A process could not bind its port because another process holds it. */
export class PortInUse extends Error {
  override readonly name = 'PortInUse';
  readonly code = 'PORT_IN_USE';
}

const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;

/** A child process of the stack, its output going to a log file. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Starts the process and waits until its ready URL answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    let logStart = 0;
    try {
      logStart = statSync(this.spec.logFile).size;
    } catch {
      // no log yet
    }
    const out = createWriteStream(this.spec.logFile, { flags: 'a' });
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        const message = `${this.spec.name} exited during start-up; last lines of ${this.spec.logFile}:\n${this.tail()}`;
        if (ADDRESS_IN_USE.test(this.logSince(logStart))) throw new PortInUse(message);
        throw new Error(message);
      }
      try {
        const res = await fetch(this.spec.readyUrl, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `${this.spec.name} was not ready after ${timeoutMs} ms; last lines of ${this.spec.logFile}:\n${this.tail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process at once, as a crash would. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private logSince(offset: number): string {
    try {
      return readFileSync(this.spec.logFile).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * `count` distinct ports that were free a moment ago on 127.0.0.1: all are held open until every
 * one is chosen, so none repeats. Whoever binds them later must retry on EADDRINUSE.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** A port that was free a moment ago on 127.0.0.1 (see `freePorts`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}
