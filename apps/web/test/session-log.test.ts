import { PAGE, SessionLog } from '../src/session-log';
import type { ChatMessage } from '../src/protocol';

const msg = (seq: number, id = `m${seq}`): ChatMessage => ({
  session: 's',
  message_id: id,
  seq,
  from: 'alice',
  text: `text ${seq}`,
  sent_at: '2026-01-01T00:00:00.000Z',
  trace_id: '0'.repeat(32),
});
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

describe('SessionLog', () => {
  it('first page — asks for the latest PAGE messages, or all of a short session', () => {
    expect(new SessionLog().start(0)).toEqual({ after_seq: 0, limit: PAGE });
    expect(new SessionLog().start(30)).toEqual({ after_seq: 0, limit: PAGE });
    expect(new SessionLog().start(PAGE + 20)).toEqual({ after_seq: 20, limit: PAGE });
  });

  it('older pages — stay contiguous down to seq 1 and then stop', () => {
    const log = new SessionLog();
    log.start(120);
    log.add(range(71, 120));
    expect(log.oldest).toBe(71);
    expect(log.olderPage()).toEqual({ after_seq: 20, limit: 50 });
    log.add(range(21, 70));
    expect(log.olderPage()).toEqual({ after_seq: 0, limit: 20 });
    log.add(range(1, 20));
    expect(log.olderPage()).toBeNull();
    expect(log.messages().map((m) => m.seq)).toEqual(range(1, 120).map((m) => m.seq));
  });

  it('pushes — a repeated message id is dropped', () => {
    const log = new SessionLog();
    log.start(0);
    expect(log.add([msg(1)])).toBe(1);
    expect(log.add([msg(1)])).toBe(0);
    expect(log.messages()).toHaveLength(1);
  });

  it('gap — a push past last + 1 asks for history after the last contiguous seq', () => {
    const log = new SessionLog();
    log.start(2);
    log.add(range(1, 2));
    expect(log.gap()).toBeNull();
    log.add([msg(6)]);
    expect(log.last).toBe(2);
    expect(log.gap()).toEqual({ after_seq: 2, limit: 4 });
    log.add(range(3, 6));
    expect(log.last).toBe(6);
    expect(log.gap()).toBeNull();
  });

  it('reconnect — a higher last_seq from join opens a gap to fill', () => {
    const log = new SessionLog();
    log.start(3);
    log.add(range(1, 3));
    log.start(7);
    expect(log.gap()).toEqual({ after_seq: 3, limit: 4 });
  });
});
