/**
 * Ends things at a time: one timer for all of them, ticking once a second through buckets of one
 * second each, so thousands of idle connections cost a set entry each rather than a timer each.
 * An item expires within a second after its time.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly slotOf = new Map<T, number>();
  private last = Math.floor(Date.now() / 1000);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly expire: (item: T) => void) {}

  /** Expires `item` at `atMs` (at the next tick when that time is past). */
  add(item: T, atMs: number): void {
    this.remove(item);
    const slot = Math.max(Math.ceil(atMs / 1000), this.last + 1);
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
    }
    bucket.add(item);
    this.slotOf.set(item, slot);
    this.timer ??= setInterval(() => this.tick(Date.now()), 1000).unref();
  }

  remove(item: T): void {
    const slot = this.slotOf.get(item);
    if (slot === undefined) return;
    this.slotOf.delete(item);
    const bucket = this.buckets.get(slot);
    bucket?.delete(item);
    if (bucket?.size === 0) this.buckets.delete(slot);
  }

  /** Expires every item due by `nowMs`; the interval calls it, tests may too. */
  tick(nowMs: number): void {
    const now = Math.floor(nowMs / 1000);
    // after a long stall (or a clock jump) walk the buckets there are, not every second missed
    const due =
      now - this.last > this.buckets.size
        ? [...this.buckets.keys()].filter((slot) => slot <= now).sort((a, b) => a - b)
        : Array.from({ length: Math.max(0, now - this.last) }, (_, i) => this.last + 1 + i);
    for (const slot of due) {
      const bucket = this.buckets.get(slot);
      if (!bucket) continue;
      this.buckets.delete(slot);
      for (const item of bucket) {
        this.slotOf.delete(item);
        this.expire(item);
      }
    }
    this.last = Math.max(this.last, now);
  }

  get size(): number {
    return this.slotOf.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
