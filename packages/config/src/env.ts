/** Raw environment: the process env or any record shaped like it (tests pass their own). */
export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(`${service}: invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Parser<T> = (raw: string) => T;

/**
 * Reads variables from an env record, collecting every problem instead of stopping at the first.
 * An empty variable counts as unset; a malformed one is reported with its name.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(
    private readonly service: string,
    private readonly env: Env,
  ) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  private parse<T>(name: string, fallback: T, parser: Parser<T>): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    try {
      return parser(raw);
    } catch (err) {
      // the value is never echoed: it may hold a password (a URL) or a secret
      this.problems.push(`${name}: ${(err as Error).message}`);
      return fallback;
    }
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  /** A variable that has no default; reported as missing when unset. */
  required(name: string, why = 'is required'): string {
    const raw = this.raw(name);
    if (raw === undefined) {
      this.problems.push(`${name} ${why}`);
      return '';
    }
    return raw;
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.parse(name, fallback, (raw) => {
      if (!/^-?\d+$/.test(raw)) throw new Error('expected an integer');
      const value = Number(raw);
      if (range.min !== undefined && value < range.min) throw new Error(`must be ≥ ${range.min}`);
      if (range.max !== undefined && value > range.max) throw new Error(`must be ≤ ${range.max}`);
      return value;
    });
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.parse(name, fallback, (raw) => {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error('expected a number');
      if (range.min !== undefined && value < range.min) throw new Error(`must be ≥ ${range.min}`);
      if (range.max !== undefined && value > range.max) throw new Error(`must be ≤ ${range.max}`);
      return value;
    });
  }

  bool(name: string, fallback: boolean): boolean {
    return this.parse(name, fallback, (raw) => {
      const lower = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      throw new Error('expected true or false');
    });
  }

  url(name: string, fallback: string, protocols: readonly string[]): string {
    return this.parse(name, fallback, (raw) => {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new Error('expected a URL');
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new Error(`expected a ${protocols.join(' or ')} URL`);
      }
      return raw;
    });
  }

  /**
   * A size in bytes: a whole number, optionally with a unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`, or the
   * decimal `KB`, `MB`, `GB`, `TB`), e.g. `1GiB`, `512MiB`, `1073741824`.
   */
  bytes(name: string, fallback: number, range: { min?: number } = {}): number {
    return this.parse(name, fallback, (raw) => {
      const m = /^(\d+)\s*([KMGT]i?B|B)?$/i.exec(raw);
      if (!m) throw new Error('expected a size such as 1GiB, 512MiB or a number of bytes');
      const unit = (m[2] ?? 'B').toUpperCase();
      const power = 'BKMGT'.indexOf(unit[0]!);
      const base = unit.length === 3 || unit === 'B' ? 1024 : 1000;
      const value = Number(m[1]) * base ** power;
      if (!Number.isSafeInteger(value)) throw new Error('is too large');
      if (range.min !== undefined && value < range.min)
        throw new Error(`must be ≥ ${range.min} bytes`);
      return value;
    });
  }

  /**
   * A duration in milliseconds, written as a whole number with a unit: `ms`, `s`, `m`, `h` or
   * `d`, e.g. `7d`, `36h`, `90s`.
   */
  duration(name: string, fallbackMs: number, range: { minMs?: number } = {}): number {
    return this.parse(name, fallbackMs, (raw) => {
      const m = /^(\d+)\s*(ms|s|m|h|d)$/.exec(raw);
      if (!m) throw new Error('expected a duration such as 7d, 36h, 30m or 90s');
      const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
      const value = Number(m[1]) * unitMs;
      if (!Number.isSafeInteger(value)) throw new Error('is too large');
      if (range.minMs !== undefined && value < range.minMs) {
        throw new Error(`must be at least ${range.minMs} ms`);
      }
      return value;
    });
  }

  /** host:port, as gRPC targets are written. */
  address(name: string, fallback: string): string {
    return this.parse(name, fallback, (raw) => {
      if (!/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(raw)) throw new Error('expected host:port');
      return raw;
    });
  }

  list(name: string, fallback: readonly string[]): readonly string[] {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    return this.parse(name, fallback, (raw) => {
      if (!(allowed as readonly string[]).includes(raw)) {
        throw new Error(`expected one of ${allowed.join(', ')}`);
      }
      return raw as T;
    });
  }

  /** Adds a problem found by a cross-field check. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one ConfigError listing every problem, or returns the value frozen. */
  done<T extends object>(value: T): Readonly<T> {
    if (this.problems.length > 0) throw new ConfigError(this.service, this.problems);
    return Object.freeze(value);
  }
}
