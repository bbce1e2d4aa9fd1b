import { originAllowed } from '../src/origin';

describe('originAllowed', () => {
  it('lets a client without Origin (not a browser) through', () => {
    expect(originAllowed(undefined, 'chat.example.com', [])).toBe(true);
  });

  it("allows the gateway's own origin: the Origin's host and port are the Host header's", () => {
    expect(originAllowed('https://chat.example.com', 'chat.example.com', [])).toBe(true);
    expect(originAllowed('https://chat.example.com', 'chat.example.com:443', [])).toBe(true);
    expect(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', [])).toBe(true);
    expect(originAllowed('http://127.0.0.1:8081', '127.0.0.1:8080', [])).toBe(false);
    expect(originAllowed('https://evil.example.com', 'chat.example.com', [])).toBe(false);
    expect(originAllowed('https://chat.example.com', undefined, [])).toBe(false);
  });

  it('allows the listed origins, or any with *', () => {
    const allowed = ['https://app.example.com'];
    expect(originAllowed('https://app.example.com', 'gw.example.com', allowed)).toBe(true);
    expect(originAllowed('http://app.example.com', 'gw.example.com', allowed)).toBe(false);
    expect(originAllowed('https://evil.example.com', 'gw.example.com', ['*'])).toBe(true);
  });

  it('refuses null, unparsable and non-http origins', () => {
    expect(originAllowed('null', 'gw.example.com', [])).toBe(false);
    expect(originAllowed('not an origin', 'gw.example.com', [])).toBe(false);
    expect(originAllowed('file:///home/x', 'gw.example.com', [])).toBe(false);
    expect(originAllowed('https://gw.example.com', 'bad host/x', [])).toBe(false);
  });
});
