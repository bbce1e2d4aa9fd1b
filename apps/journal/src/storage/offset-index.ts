/**
 * Sparse offset index of one segment. On disk, a sequence of 8-byte entries, big-endian:
 * u32 offset relative to the segment's base offset, u32 file position of that record.
 * The first record of a segment (relative offset 0, position 0) is implied, never stored.
 * Entries grow strictly in both fields.
 */
export const INDEX_ENTRY_BYTES = 8;

export interface IndexEntry {
  relativeOffset: number;
  position: number;
}

export class OffsetIndex {
  private entries: Uint32Array;
  private count = 0;

  constructor(capacity = 64) {
    this.entries = new Uint32Array(Math.max(2, capacity * 2));
  }

  /**
   * Decodes an index file, keeping the longest prefix of well-formed entries: strictly
   * increasing, positive, and pointing before `fileLimit`. `complete` is false when anything
   * (including a partial trailing entry) was dropped.
   */
  static decode(bytes: Buffer, fileLimit: number): { index: OffsetIndex; complete: boolean } {
    const total = Math.floor(bytes.length / INDEX_ENTRY_BYTES);
    const index = new OffsetIndex(total);
    let complete = total * INDEX_ENTRY_BYTES === bytes.length;
    let lastRel = 0;
    let lastPos = 0;
    for (let i = 0; i < total; i++) {
      const rel = bytes.readUInt32BE(i * INDEX_ENTRY_BYTES);
      const pos = bytes.readUInt32BE(i * INDEX_ENTRY_BYTES + 4);
      if (rel <= lastRel || pos <= lastPos || pos >= fileLimit) {
        complete = false;
        break;
      }
      index.add(rel, pos);
      lastRel = rel;
      lastPos = pos;
    }
    return { index, complete };
  }

  get length(): number {
    return this.count;
  }

  add(relativeOffset: number, position: number): void {
    if (this.count * 2 === this.entries.length) {
      const grown = new Uint32Array(this.entries.length * 2);
      grown.set(this.entries);
      this.entries = grown;
    }
    this.entries[this.count * 2] = relativeOffset;
    this.entries[this.count * 2 + 1] = position;
    this.count++;
  }

  /** The last entry at or before `relativeOffset` (binary search); the implied first entry if none. */
  lookup(relativeOffset: number): IndexEntry {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid * 2] <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : this.at(found);
  }

  at(i: number): IndexEntry {
    return { relativeOffset: this.entries[i * 2], position: this.entries[i * 2 + 1] };
  }

  last(): IndexEntry | undefined {
    return this.count === 0 ? undefined : this.at(this.count - 1);
  }

  /** Keeps the first `count` entries. */
  truncate(count: number): void {
    this.count = Math.min(this.count, count);
  }

  /** Entries [from, to) in their on-disk form. */
  encode(from = 0, to = this.count): Buffer {
    const out = Buffer.allocUnsafe((to - from) * INDEX_ENTRY_BYTES);
    for (let i = from; i < to; i++) {
      out.writeUInt32BE(this.entries[i * 2], (i - from) * INDEX_ENTRY_BYTES);
      out.writeUInt32BE(this.entries[i * 2 + 1], (i - from) * INDEX_ENTRY_BYTES + 4);
    }
    return out;
  }
}
