import { Outbox } from '../src/outbox';

function memoryStorage() {
  const data = new Map<string, string>();
  return {
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
  };
}

describe('Outbox', () => {
  it('survives a reload — unacked sends keep their client_msg_id, acked ones are gone', () => {
    const storage = memoryStorage();
    const box = new Outbox(storage, 'k');
    box.add({ client_msg_id: 'a', session: 's', text: 'one', debug: false, queued_at: 1 });
    box.add({ client_msg_id: 'b', session: 's', text: 'two', debug: true, queued_at: 2 });
    box.remove('a');
    const reloaded = new Outbox(storage, 'k');
    expect(reloaded.all().map((e) => e.client_msg_id)).toEqual(['b']);
    expect(reloaded.forSession('s')[0]).toMatchObject({ text: 'two', debug: true });
  });

  it('ignores what it cannot read', () => {
    const storage = memoryStorage();
    storage.setItem('k', '{not json');
    expect(new Outbox(storage, 'k').all()).toEqual([]);
    storage.setItem('k', JSON.stringify([{ client_msg_id: 1 }]));
    expect(new Outbox(storage, 'k').all()).toEqual([]);
  });
});
