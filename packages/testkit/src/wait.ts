export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/** A `waitFor` that ran out of time; carries the last value or error seen. */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
  readonly code = 'WAIT_TIMEOUT';
  constructor(
    message: string,
    readonly last: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Calls `fn` until it returns, without throwing, something other than `undefined`, `null` or
 * `false`, and resolves with that value; rejects with `WaitTimeout` (carrying the last value or
 * error) once `timeoutMs` has passed. Use it wherever a test would otherwise sleep and hope.
 * A throwing `expect(...)` inside `fn` is retried too: end such a function with `return true`.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      lastError = undefined;
      if (last !== undefined && last !== null && last !== false) {
        return last as Exclude<T, undefined | null | false>;
      }
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.what ?? 'condition';
      const detail =
        lastError !== undefined
          ? `last error: ${(lastError as Error).message ?? String(lastError)}`
          : `last value: ${JSON.stringify(last)}`;
      throw new WaitTimeout(`${what} not met within ${timeoutMs} ms; ${detail}`, last, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Proves that something did not happen without trusting a fixed wait. Order matters: first do
 * the thing that must have no effect, then `sendControl` something that travels the same path
 * and must arrive after it (a message sent later on the same connection, a trace exported later
 * by the same process, …). Once `controlArrived` holds (polled like `waitFor`), `absent` is
 * called once and must hold; a slow pipeline then fails the wait instead of passing the test.
 */
export async function assertAbsentAfterControl<C>(steps: {
  /** Sends the control; what it returns is handed to `controlArrived`. */
  readonly sendControl: () => C | Promise<C>;
  /** True (or a truthy value) once the control has been seen. */
  readonly controlArrived: (control: C) => unknown;
  /** Asserts the absence (throws when the thing is there); runs once, after the control. */
  readonly absent: () => void | Promise<void>;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly what?: string;
}): Promise<void> {
  const control = await steps.sendControl();
  await waitFor(async () => (await steps.controlArrived(control)) || undefined, {
    timeoutMs: steps.timeoutMs,
    intervalMs: steps.intervalMs,
    what: steps.what ?? 'control',
  });
  await steps.absent();
}
