import { RateLimiter } from './connection';

/** The connection limits, named as they are counted and logged. */
export const ConnectionLimit = {
  TOTAL: 'connections_total',
  PER_USER: 'connections_per_user',
  PER_ADDRESS: 'connections_per_address',
} as const;
export type ConnectionLimit = (typeof ConnectionLimit)[keyof typeof ConnectionLimit];

export interface ConnectionLimitsConfig {
  readonly total: number;
  readonly perUser: number;
  readonly perAddress: number;
}

/** A slot held by an upgrade or an open connection; release it once, when it ends. */
export type Release = () => void;

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

/**
 * Counts connections of this gateway in total, per user and per remote address. A slot is taken
 * synchronously before the WebSocket handshake, so upgrades in flight count too and concurrent
 * upgrades can never overshoot a limit.
 */
export class ConnectionSlots {
  private total = 0;
  private readonly byUser = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimitsConfig) {}

  /** Takes a slot, or names the limit that refuses it. */
  acquire(userId: string, address: string): Release | ConnectionLimit {
    if (this.total >= this.limits.total) return ConnectionLimit.TOTAL;
    if ((this.byUser.get(userId) ?? 0) >= this.limits.perUser) return ConnectionLimit.PER_USER;
    if ((this.byAddress.get(address) ?? 0) >= this.limits.perAddress) {
      return ConnectionLimit.PER_ADDRESS;
    }
    this.total++;
    bump(this.byUser, userId, 1);
    bump(this.byAddress, address, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      bump(this.byUser, userId, -1);
      bump(this.byAddress, address, -1);
    };
  }

  get size(): number {
    return this.total;
  }
}

/** A remote address as counted: IPv4-mapped IPv6 (`::ffff:127.0.0.1`) counts as its IPv4. */
export function remoteAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * A token bucket per key (a user, an address): `rate` a second, bursts up to `burst`. At most
 * `maxKeys` buckets are kept; past that the longest unused one is forgotten (a full bucket again).
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, RateLimiter>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
  ) {}

  private bucket(key: string, now: number): RateLimiter {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
    } else {
      bucket = new RateLimiter(this.rate, this.burst, now);
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Takes `cost` from the key's bucket; false when it holds fewer. */
  take(key: string, cost = 1, now = Date.now()): boolean {
    return this.bucket(key, now).take(now, cost);
  }

  /** Whether the key's bucket holds at least one token. */
  allows(key: string, now = Date.now()): boolean {
    return this.buckets.get(key)?.hasTokens(now) ?? true;
  }
}
