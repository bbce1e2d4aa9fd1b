// What a chat client shows of one session, in order and once: the rules of docs/protocol.md
// ("Ordering, gaps and duplicates") for pushes, acks of one's own sends and history pages.

/** A message as history entries, pushes and (for one's own sends) acks describe it. */
export interface ChatEntry {
  readonly message_id: string;
  readonly seq: number;
  readonly from: string;
  readonly text: string;
  readonly sent_at: string;
  readonly trace_id: string;
  /** A push's `traceparent`, to send back in `received` once shown. */
  readonly traceparent?: string;
}

/** How many message ids are remembered to drop repeats; the seq check covers older ones. */
const REMEMBERED_IDS = 1024;

export class Timeline {
  private readonly seen = new Set<string>();
  private readonly held = new Map<number, ChatEntry>();

  /** `last`: the seq shown last (0: nothing yet); messages at or below it are not shown. */
  constructor(private lastSeq = 0) {}

  get last(): number {
    return this.lastSeq;
  }

  /** True while a message above the next expected seq waits for the ones before it. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /** Moves `last` forward without showing anything (where a history display begins). */
  skipTo(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq;
    for (const s of [...this.held.keys()]) if (s <= this.lastSeq) this.held.delete(s);
  }

  /**
   * Takes a message from anywhere and returns what may be shown now, in seq order: nothing for
   * a repeat or a seq already covered; the message and any held ones it completes when it is the
   * next; nothing (it is held, `hasGap` turns true) when messages before it are missing.
   */
  offer(entry: ChatEntry): ChatEntry[] {
    if (this.seen.has(entry.message_id) || entry.seq <= this.lastSeq) return [];
    if (entry.seq > this.lastSeq + 1) {
      if (!this.held.has(entry.seq)) this.held.set(entry.seq, entry);
      return [];
    }
    const shown: ChatEntry[] = [];
    for (let next: ChatEntry | undefined = entry; next; next = this.held.get(this.lastSeq + 1)) {
      this.held.delete(next.seq);
      this.remember(next.message_id);
      this.lastSeq = next.seq;
      shown.push(next);
    }
    return shown;
  }

  private remember(messageId: string): void {
    this.seen.add(messageId);
    if (this.seen.size > REMEMBERED_IDS) this.seen.delete(this.seen.values().next().value!);
  }
}
