import { tokenFromRequest } from '../src/auth';

describe('tokenFromRequest', () => {
  it('prefers the bearer header and falls back to ?token=', () => {
    const url = new URL('http://gw/ws?token=q');
    expect(tokenFromRequest('Bearer h', url)).toBe('h');
    expect(tokenFromRequest(undefined, url)).toBe('q');
    expect(tokenFromRequest('Basic x', new URL('http://gw/ws'))).toBeUndefined();
  });
});
