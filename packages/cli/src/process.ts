import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, readFileSync, statSync } from 'node:fs';
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
  /** Restart the process when it exits without being asked to (compose's `restart: unless-stopped`). */
  readonly restart?: RestartPolicy;
  /** Hears what the supervisor does (exits, restarts); the same lines go to the log file. */
  readonly onNotice?: (message: string) => void;
}

/** A process could not bind its port because another process holds it. */
export class PortInUse extends Error {
  override readonly name = 'PortInUse';
  readonly code = 'PORT_IN_USE';
}

const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;

export interface RestartPolicy {
  /** Wait before the first restart; doubled after each crash, up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A process that ran this long before crashing counts as healthy: the backoff starts over. */
  readonly resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  resetAfterMs: 30_000,
};

/**
 * A child process of the stack, its output going to a log file. With a restart policy it is
 * supervised: an exit nobody asked for (a crash, an outside `kill -9`) is restarted with backoff
 * and said so; `stop()` and `kill()` are on purpose and leave it stopped until `start()`.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** Whether the process should be running: false after stop()/kill(). */
  private wanted = false;
  private startingUp = false;
  private startedAt = 0;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartWaiters: (() => void)[] = [];
  /** Restarts done by the supervisor since the stack started. */
  restarts = 0;

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
    this.wanted = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.launch(timeoutMs);
  }

  private async launch(timeoutMs: number): Promise<void> {
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
    this.startedAt = Date.now();
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        resolve(code);
        this.exitedOnItsOwn(child, code, signal);
      }),
    );
    this.startingUp = true;
    try {
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
          await this.terminate(10_000);
          throw new Error(
            `${this.spec.name} was not ready after ${timeoutMs} ms; last lines of ${this.spec.logFile}:\n${this.tail()}`,
          );
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      this.startingUp = false;
    }
  }

  /** The supervisor: restarts a process that exited while it was wanted and not starting up. */
  private exitedOnItsOwn(child: ChildProcess, code: number | null, signal: string | null): void {
    if (child !== this.child || !this.wanted || this.startingUp || !this.spec.restart) return;
    this.scheduleRestart(`exited (${signal ?? `code ${code}`})`);
  }

  private scheduleRestart(why: string): void {
    const policy = this.spec.restart!;
    if (Date.now() - this.startedAt >= policy.resetAfterMs) this.crashes = 0;
    const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** this.crashes);
    this.crashes++;
    this.notice(`${this.spec.name} ${why}; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.wanted) return;
      this.launch(60_000).then(
        () => {
          this.restarts++;
          this.notice(`${this.spec.name} restarted (pid ${this.pid}, restart ${this.restarts})`);
          for (const resolve of this.restartWaiters.splice(0)) resolve();
        },
        (err: Error) => {
          if (this.wanted) this.scheduleRestart(`failed to restart: ${err.message.split('\n')[0]}`);
        },
      );
    }, delay);
  }

  private notice(message: string): void {
    const line = `[stack ${new Date().toISOString()}] ${message}\n`;
    try {
      appendFileSync(this.spec.logFile, line);
    } catch {
      // the log folder is gone (cleanup); the notice still goes to onNotice
    }
    this.spec.onNotice?.(message);
  }

  /**
   * Kills the process with SIGKILL as an outside crash would (an OOM kill, `kill -9`): the
   * supervisor restarts it. Resolves once it is gone; `waitRestarted` waits for it to be back.
   */
  async crash(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Resolves when the supervisor's next restart has made the process ready again. */
  waitRestarted(timeoutMs = 90_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.spec.name} was not restarted within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.restartWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Not restarted. */
  async stop(graceMs = 10_000): Promise<void> {
    this.wanted = false;
    clearTimeout(this.restartTimer);
    await this.terminate(graceMs);
  }

  private async terminate(graceMs: number): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (SIGKILL), on purpose: it stays down until `start()`. */
  async kill(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.restartTimer);
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
