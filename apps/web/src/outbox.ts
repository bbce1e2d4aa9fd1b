/** A send the gateway has not acked yet; kept in sessionStorage so a reload retries it. */
export interface PendingSend {
  readonly client_msg_id: string;
  readonly session: string;
  readonly text: string;
  readonly debug: boolean;
  readonly queued_at: number;
}

/**
 * The sends waiting for their ack, in the order they were made. Every retry reuses the entry's
 * `client_msg_id`, so the gateway stores the message once however often it is sent.
 */
export class Outbox {
  private entries: PendingSend[];

  constructor(
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'>,
    private readonly key: string,
  ) {
    this.entries = read(storage, key);
  }

  all(): readonly PendingSend[] {
    return this.entries;
  }

  forSession(session: string): PendingSend[] {
    return this.entries.filter((e) => e.session === session);
  }

  add(entry: PendingSend): void {
    this.entries = [...this.entries, entry];
    this.save();
  }

  remove(clientMsgId: string): void {
    this.entries = this.entries.filter((e) => e.client_msg_id !== clientMsgId);
    this.save();
  }

  private save(): void {
    this.storage.setItem(this.key, JSON.stringify(this.entries));
  }
}

function read(storage: Pick<Storage, 'getItem'>, key: string): PendingSend[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(key) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (e): e is PendingSend =>
        typeof e === 'object' &&
        e !== null &&
        typeof e.client_msg_id === 'string' &&
        typeof e.session === 'string' &&
        typeof e.text === 'string',
    );
  } catch {
    return [];
  }
}
