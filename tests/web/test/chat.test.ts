import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { setup, waitFor } from '@tracechat/testkit';
import type { TestStack } from '@tracechat/testkit';

const ARTIFACTS = join(__dirname, '..', 'artifacts');
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where "Open in Jaeger" points; nothing needs to answer there. */
const JAEGER_UI = 'http://jaeger-ui.invalid:16686';

let stack: TestStack;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  // development: sign-in by user name, as a person trying tracechat locally would
  [stack, browser] = await Promise.all([
    setup({ gatewayEnv: { ENVIRONMENT: 'development', JAEGER_UI_URL: JAEGER_UI } }),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    }),
  ]);
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(contexts.map((c) => c.close()));
  await browser?.close();
  await stack?.cleanup();
}, 60_000);

async function openAs(user: string, gateway: 1 | 2, height = 900): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1500, height } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${user}: ${err.message}`));
  await page.goto(`${stack.httpUrl(gateway)}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await connected(page);
  return page;
}

function connected(page: Page): Promise<void> {
  return page.locator('[aria-label="Connection"][data-state="open"]').waitFor({ timeout: 20_000 });
}

/** The messages the page shows, in screen order. */
async function shown(page: Page): Promise<{ seq: number; from: string; text: string }[]> {
  return page.locator('[role="log"] li.message[data-seq]').evaluateAll((items) =>
    items.map((li) => ({
      seq: Number(li.getAttribute('data-seq')),
      from: li.querySelector('.from')?.textContent ?? '',
      text: li.querySelector('.text')?.textContent ?? '',
    })),
  );
}

function message(page: Page, text: string) {
  return page.locator('[role="log"] li.message', { hasText: text });
}

/** The mark on a message's first appearance; null when it has none (another user's message). */
async function markOf(page: Page, text: string): Promise<string | null> {
  const mark = message(page, text).first().locator('[data-mark]');
  return (await mark.count()) === 0 ? null : mark.getAttribute('data-mark', { timeout: 1000 });
}

async function send(page: Page, text: string, how: 'enter' | 'click' = 'enter'): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  if (how === 'enter') await page.getByLabel('Message', { exact: true }).press('Enter');
  else await page.getByRole('button', { name: 'Send' }).click();
}

describe('web chat in Chromium', () => {
  it('two users chat in a private session, recover from a dropped connection without gaps, and follow a message’s journey', async () => {
    const alice = stack.user('alice');
    const bob = stack.user('bob');
    const room = stack.session('room');
    // alice's window is tall enough for the whole waterfall in the screenshot
    const [a, b] = await Promise.all([openAs(alice, 1, 1400), openAs(bob, 2)]);

    // alice creates a private session and invites bob
    await a.getByLabel('Session name').fill(room);
    await a.getByRole('button', { name: 'Create' }).click();
    await a.getByRole('heading', { name: room }).waitFor();
    await a.getByLabel('Invite user').fill(bob);
    await a.getByRole('button', { name: 'Invite' }).click();
    await a.getByText(`${bob} was invited to ${room}`).waitFor();

    // bob opens it by name
    await b.getByLabel('Session name').fill(room);
    await b.getByRole('button', { name: 'Join' }).click();
    await b.getByRole('heading', { name: room }).waitFor();
    expect(await b.getByRole('alert').count()).toBe(0);

    // they chat both ways; the sender's marks go sent → delivered
    await send(a, 'hello bob');
    await message(b, 'hello bob').waitFor();
    await waitFor(async () => (await markOf(a, 'hello bob')) === 'delivered', {
      what: 'alice’s delivered mark',
      timeoutMs: 15_000,
    });
    await send(b, 'hi alice', 'click');
    await message(a, 'hi alice').waitFor();
    await waitFor(async () => (await markOf(b, 'hi alice')) === 'delivered', {
      what: 'bob’s delivered mark',
      timeoutMs: 15_000,
    });
    expect(await markOf(b, 'hello bob')).toBeNull(); // someone else's message carries no mark
    expect(await message(a, 'hello bob').locator('[data-mark]').getAttribute('title')).toMatch(
      /^delivered:/,
    );

    // a reload keeps the sign-in (per tab) and shows the history
    await b.reload();
    await connected(b);
    await waitFor(async () => (await shown(b)).length === 2, { what: 'history after reload' });
    expect(await shown(b)).toEqual([
      { seq: 1, from: alice, text: 'hello bob' },
      { seq: 2, from: bob, text: 'hi alice' },
    ]);
    expect(await markOf(b, 'hi alice')).toBe('delivered');

    // bob's gateway goes away: his socket really drops; alice sends three messages meanwhile
    await stack.stopService('gateway-2');
    await b.locator('[aria-label="Connection"]:not([data-state="open"])').waitFor();
    // bob writes meanwhile: the send waits, marked pending, and goes out after the reconnect
    await send(b, 'written while offline');
    expect(await markOf(b, 'written while offline')).toBe('pending');
    for (const text of [
      'while you were away 1',
      'while you were away 2',
      'while you were away 3',
    ]) {
      await send(a, text);
      await waitFor(async () => (await markOf(a, text)) !== null, { what: `ack of “${text}”` });
    }
    await stack.startService('gateway-2');
    await connected(b);
    await waitFor(async () => (await shown(b)).length >= 6, {
      what: 'bob catching up',
      timeoutMs: 15_000,
    });
    const after = await shown(b);
    expect(after.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(after.map((m) => m.text)).toEqual([
      'hello bob',
      'hi alice',
      'while you were away 1',
      'while you were away 2',
      'while you were away 3',
      'written while offline',
    ]);
    expect(await markOf(b, 'written while offline')).not.toBe('pending');
    // live pushes flow again after the catch-up; alice got bob's offline message once
    await send(a, 'welcome back');
    await message(b, 'welcome back').waitFor();
    expect((await shown(b)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await message(a, 'written while offline').waitFor();
    expect((await shown(a)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await b.screenshot({ path: join(ARTIFACTS, 'chat.png') });

    // alice opens the journey of the message she sent to bob
    await message(a, 'hello bob').getByRole('button').click();
    const journey = a.getByRole('complementary', { name: 'Journey' });
    const rows = journey.locator('table[aria-label="Waterfall"] tbody tr');
    const seen = await waitFor(
      async () => {
        const spans = await rows.evaluateAll((trs) =>
          trs.map((tr) => ({
            service: tr.getAttribute('data-service'),
            name: tr.getAttribute('data-span'),
          })),
        );
        const services = new Set(spans.map((s) => s.service));
        const names = new Set(spans.map((s) => s.name));
        const complete =
          ['web', 'gateway', 'logic', 'journal', 'task'].every((s) => services.has(s)) &&
          names.has('web.chat.send') &&
          names.has('web.chat.render');
        return complete && { services, names };
      },
      { what: 'a journey with both browsers’ spans', timeoutMs: 20_000 },
    );
    await a.screenshot({ path: join(ARTIFACTS, 'journey.png') });
    expect(seen.names).toContain('gateway.ws.delivery_ack');
    const trace = await journey.locator('code').first().textContent();
    expect(
      await journey.getByRole('link', { name: 'Open in Jaeger' }).getAttribute('href'),
    ).toContain(trace!);
    const hops = journey.getByRole('list', { name: 'Hops' });
    expect(await hops.locator('[data-hop="sender"]').textContent()).toContain("sender's browser");
    await hops.locator('[data-hop="recipient"]').first().waitFor();
    expect(await journey.locator('tr.critical').count()).toBeGreaterThan(2);
    expect(pageErrors).toEqual([]);
  });

  it('scroll-back: the latest page first, older pages on scrolling up, contiguous to seq 1', async () => {
    const carol = stack.user('carol');
    const hall = stack.session('hall');
    const writer = await stack.connect(carol);
    await writer.request({ type: 'join', id: 'j', session: hall, public: true });
    for (let i = 1; i <= 70; i++) {
      const ack = await writer.request({
        type: 'send',
        id: `s${i}`,
        session: hall,
        text: `line ${i}`,
        client_msg_id: `line-${i}`,
      });
      expect(ack.type).toBe('ack');
    }
    const dave = await openAs(stack.user('dave'), 1);
    await dave.getByLabel('Session name').fill(hall);
    await dave.getByRole('button', { name: 'Join' }).click();
    await waitFor(async () => (await shown(dave)).length === 50, { what: 'the latest page' });
    expect((await shown(dave))[0]).toMatchObject({ seq: 21, text: 'line 21' });
    await dave.locator('[role="log"]').evaluate((log) => (log.scrollTop = 0));
    await dave.getByText(`start of ${hall}`).waitFor();
    const all = await shown(dave);
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(all[69]).toEqual({ seq: 70, from: carol, text: 'line 70' });
    expect(pageErrors).toEqual([]);
  });
});
