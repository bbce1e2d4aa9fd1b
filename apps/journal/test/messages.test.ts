import { decodeRecordData } from '@tracechat/contracts';
import { MessageLog } from '../src/messages';
import type { NewMessage } from '../src/messages';
import { JournalStore, MessageConflictError } from '../src/storage';
import { tempDir } from './fixtures/storage-kit';

const SHARD = 'shard-a';

function message(sessionId: string, n: number, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    messageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    sessionId,
    senderId: 'alice',
    text: `text ${n}`,
    sentAtMs: 1_700_000_000_000 + n,
    originGatewayId: 'gateway-1',
    originConnectionId: 'c1',
    ...extra,
  };
}

describe('MessageLog', () => {
  let temp: { dir: string; cleanup(): Promise<void> };
  let path: string;
  let store: JournalStore;

  beforeEach(async () => {
    temp = await tempDir();
    path = temp.dir;
    store = await JournalStore.open(path, { groupCommitMaxWaitMs: 1 });
  });

  afterEach(async () => {
    await store.close();
    await temp.cleanup();
  });

  it('assigns each session contiguous seqs from 1 in offset order, under concurrent appends', async () => {
    const log = new MessageLog(store);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => log.append(SHARD, message(`s${n % 3}`, n))),
    );
    for (const session of ['s0', 's1', 's2']) {
      const mine = results.filter((_, n) => `s${n % 3}` === session);
      expect(mine.map((r) => r.seq)).toEqual(mine.map((_, i) => i + 1));
      const offsets = mine.map((r) => r.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    const records = await store.read(SHARD, 0);
    for (const record of records) {
      const decoded = decodeRecordData(record.data);
      expect(decoded.kind).toBe('message');
      if (decoded.kind === 'message') expect(decoded.message.sessionId).toBe(record.sessionId);
    }
  });

  it('answers a repeated client_msg_id with the original and refuses another text, writing nothing', async () => {
    const log = new MessageLog(store);
    const first = await log.append(SHARD, message('s', 1, { clientMsgId: 'k' }));
    const [again, concurrent] = await Promise.all([
      log.append(SHARD, message('s', 2, { clientMsgId: 'k', text: 'text 1' })),
      log.append(SHARD, message('s', 3, { clientMsgId: 'k', text: 'text 1' })),
    ]);
    for (const dup of [again, concurrent]) {
      expect(dup).toEqual({ ...first, duplicate: true });
    }
    await expect(log.append(SHARD, message('s', 4, { clientMsgId: 'k' }))).rejects.toBeInstanceOf(
      MessageConflictError,
    );
    // another sender, or another session, may use the same key
    expect(
      (await log.append(SHARD, message('s', 5, { clientMsgId: 'k', senderId: 'bob' }))).duplicate,
    ).toBe(false);
    expect((await log.append(SHARD, message('t', 6, { clientMsgId: 'k' }))).seq).toBe(1);
    expect(store.info(SHARD).nextOffset).toBe(3);
  });

  it('rebuilds the counters and the key index from the records after a restart', async () => {
    let log = new MessageLog(store);
    const first = await log.append(SHARD, message('s', 1, { clientMsgId: 'k' }));
    await log.append(SHARD, message('s', 2));
    await log.append(SHARD, message('u', 3));
    await store.close();
    store = await JournalStore.open(path);
    log = new MessageLog(store);
    expect(await log.append(SHARD, message('s', 4, { clientMsgId: 'k', text: 'text 1' }))).toEqual({
      ...first,
      duplicate: true,
    });
    await expect(log.append(SHARD, message('s', 5, { clientMsgId: 'k' }))).rejects.toBeInstanceOf(
      MessageConflictError,
    );
    expect((await log.append(SHARD, message('s', 6))).seq).toBe(3);
    expect((await log.append(SHARD, message('u', 7))).seq).toBe(2);
  });

  it('continues a session above its records from before the journal assigned seqs (offset + 1)', async () => {
    const legacy = (n: number) =>
      Buffer.from(
        JSON.stringify({ messageId: `m${n}`, senderId: 'alice', clientMsgId: `old-${n}`, text: `t${n}`, sentAtMs: 1_700_000_000_000 + n }),
      );
    await store.append(SHARD, [
      { sessionId: 'x', data: legacy(0) },
      { sessionId: 'old', data: legacy(1) },
      { sessionId: 'old', data: legacy(2) },
    ]);
    const log = new MessageLog(store);
    expect((await log.append(SHARD, message('old', 10))).seq).toBe(4);
    const dup = await log.append(SHARD, message('old', 11, { clientMsgId: 'old-2', text: 't2' }));
    expect(dup).toMatchObject({ messageId: 'm2', seq: 3, duplicate: true });
  });

  it('remembers a client_msg_id for its window after sent_at, then forgets it, also after a restart', async () => {
    const HOUR = 3600 * 1000;
    let log = new MessageLog(store, undefined, undefined, 48 * HOUR);
    const first = await log.append(SHARD, message('s', 1, { clientMsgId: 'k' }));
    // 47 hours later the key still answers with the original
    const within = message('s', 2, { clientMsgId: 'k', text: 'text 1', sentAtMs: first.sentAtMs + 47 * HOUR });
    expect(await log.append(SHARD, within)).toMatchObject({ messageId: first.messageId, duplicate: true });
    // another sender's message 49 hours later moves the window past it: the key is forgotten
    await log.append(SHARD, message('s', 3, { clientMsgId: 'other', sentAtMs: first.sentAtMs + 49 * HOUR }));
    const late = message('s', 4, { clientMsgId: 'k', text: 'text 1', sentAtMs: first.sentAtMs + 49 * HOUR });
    const again = await log.append(SHARD, late);
    expect(again).toMatchObject({ duplicate: false, seq: 3 });
    // a node rebuilt from the records forgets the same keys and remembers the same ones
    log = new MessageLog(store, undefined, undefined, 48 * HOUR);
    expect(await log.append(SHARD, late)).toMatchObject({ messageId: again.messageId, duplicate: true });
    // a key past its window is free again even before anything else moved the window
    const late2 = message('s', 6, { clientMsgId: 'other', text: 'new', sentAtMs: first.sentAtMs + 98 * HOUR });
    expect(await log.append(SHARD, late2)).toMatchObject({ duplicate: false, seq: 4 });
    log = new MessageLog(store, undefined, undefined, 48 * HOUR);
    expect(await log.append(SHARD, late2)).toMatchObject({ duplicate: true, seq: 4 });
  });
});
