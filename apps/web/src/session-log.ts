import type { ChatMessage } from './protocol';

/** Messages per history page. */
export const PAGE = 50;

export interface HistoryRequest {
  readonly after_seq: number;
  readonly limit: number;
}

/**
 * The messages of one session that this page holds: a contiguous run of seqs from `oldest` to
 * `last`, plus any pushed ahead of a gap. Pushes are at least once, so a message id seen before
 * is dropped.
 */
export class SessionLog {
  private readonly bySeq = new Map<number, ChatMessage>();
  private readonly ids = new Set<string>();
  /** Lowest seq held (contiguous up to `last`); `last + 1` when empty. */
  oldest = 1;
  /** Highest seq such that every seq from `oldest` to it is held. */
  last = 0;
  /** The session's latest seq as far as this page knows (≥ last). */
  known = 0;

  /** Starts the log at the session's latest seq (from `joined`); returns the first page to load. */
  start(lastSeq: number): HistoryRequest {
    this.known = Math.max(this.known, lastSeq);
    const after = Math.max(0, lastSeq - PAGE);
    if (this.bySeq.size === 0) {
      this.oldest = after + 1;
      this.last = after;
    }
    return { after_seq: Math.max(after, this.last), limit: PAGE };
  }

  /** Whether `id` is already held. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * Adds messages (history or pushes); returns how many were new. A message id or seq already
   * held is ignored.
   */
  add(messages: readonly ChatMessage[]): number {
    let added = 0;
    for (const m of messages) {
      if (this.ids.has(m.message_id) || this.bySeq.has(m.seq)) continue;
      this.bySeq.set(m.seq, m);
      this.ids.add(m.message_id);
      this.known = Math.max(this.known, m.seq);
      added++;
    }
    while (this.bySeq.has(this.oldest - 1)) this.oldest--;
    while (this.bySeq.has(this.last + 1)) this.last++;
    return added;
  }

  /** The history request that fills the gap above `last`, or null when there is none. */
  gap(): HistoryRequest | null {
    if (this.known <= this.last) return null;
    return { after_seq: this.last, limit: Math.min(PAGE * 2, this.known - this.last) };
  }

  /** Marks the session as having at least `seq` (e.g. from an ack), so a gap below it is filled. */
  saw(seq: number): void {
    this.known = Math.max(this.known, seq);
  }

  /** The request for the page before `oldest`, or null at the session's start. */
  olderPage(): HistoryRequest | null {
    if (this.oldest <= 1) return null;
    const after = Math.max(0, this.oldest - PAGE - 1);
    return { after_seq: after, limit: this.oldest - 1 - after };
  }

  /** Held messages in seq order. */
  messages(): ChatMessage[] {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
}
