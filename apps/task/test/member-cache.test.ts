import { MemberCache } from '@tracechat/presence';

describe('MemberCache', () => {
  const following = () => {
    const cache = new MemberCache(60_000);
    cache.following = true;
    return cache;
  };

  it('answers from the cache until the session is announced as changed', async () => {
    const cache = following();
    let loads = 0;
    const load = async () => {
      loads++;
      return ['alice', 'bob'];
    };
    expect(await cache.get('s', load)).toEqual({ members: ['alice', 'bob'], cached: false });
    expect(await cache.get('s', load)).toEqual({ members: ['alice', 'bob'], cached: true });
    cache.invalidate('s');
    expect(await cache.get('s', load)).toEqual({ members: ['alice', 'bob'], cached: false });
    expect(loads).toBe(2);
  });

  it('does not keep an answer whose lookup began before a change', async () => {
    const cache = following();
    let release!: (members: string[]) => void;
    const slow = cache.get('s', () => new Promise((resolve) => (release = resolve)));
    cache.invalidate('s'); // bob is invited while the old list is on its way
    release(['alice']);
    expect((await slow).members).toEqual(['alice']);
    expect(await cache.get('s', async () => ['alice', 'bob'])).toEqual({
      members: ['alice', 'bob'],
      cached: false,
    });
  });

  it('caches nothing while it is not following announcements, and forgets on clear', async () => {
    const cache = new MemberCache(60_000);
    await cache.get('s', async () => ['alice']);
    expect(cache.size).toBe(0);
    cache.following = true;
    await cache.get('s', async () => ['alice']);
    expect(cache.size).toBe(1);
    cache.clear();
    expect((await cache.get('s', async () => ['carol'])).members).toEqual(['carol']);
  });

  it('expires entries after their time to live', async () => {
    const cache = new MemberCache(0);
    cache.following = true;
    await cache.get('s', async () => ['alice']);
    expect((await cache.get('s', async () => ['bob'])).members).toEqual(['bob']);
  });

  it('holds at most maxEntries sessions and maxMembers members, dropping the least recently used', async () => {
    const cache = new MemberCache(60_000, 3, 5);
    cache.following = true;
    const users = (n: number) => async () => Array.from({ length: n }, (_, i) => `u${i}`);
    await cache.get('a', users(2));
    await cache.get('b', users(2));
    expect(cache.memberCount).toBe(4);
    expect((await cache.get('a', users(2))).cached).toBe(true); // a is now the most recent
    await cache.get('c', users(2)); // 6 members > 5: b, the least recently used, goes
    expect(cache.size).toBe(2);
    expect(cache.memberCount).toBe(4);
    expect((await cache.get('a', users(2))).cached).toBe(true);
    expect((await cache.get('b', users(2))).cached).toBe(false);
    // a session larger than the whole budget is answered but never cached
    expect((await cache.get('huge', users(6))).members).toHaveLength(6);
    expect((await cache.get('huge', users(6))).cached).toBe(false);
    // empty sessions (unknown ids) count against the session bound
    for (const id of ['x', 'y', 'z', 'w']) await cache.get(id, users(0));
    expect(cache.size).toBe(3);
    cache.invalidate('w');
    expect(cache.size).toBe(2);
    expect(cache.memberCount).toBe(0);
  });
});
