import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { setup, waitFor } from '@tracechat/testkit';
import type { TestStack } from '@tracechat/testkit';

// Tail sampling keeps none of the ordinary traces here, so the journey must say so plainly and
// offer a debug resend, whose trace is always kept.
let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    setup({
      collector: true,
      collectorEnv: { TAIL_DECISION_WAIT: '2s', TRACECHAT_TAIL_SAMPLE_PERCENT: '0' },
      gatewayEnv: { ENVIRONMENT: 'development', TRACE_PENDING_SECONDS: '4' },
    }),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.cleanup();
}, 60_000);

describe('journey of a trace tail sampling dropped', () => {
  it('says the trace was not kept, and “Resend with debug” sends a message whose journey is there', async () => {
    const room = stack.session('sampled');
    const user = stack.user('erin');
    // warm the path (shard, caches) so the message below is an ordinary, fast one
    const warm = await stack.connect(stack.user('warm'));
    await warm.request({ type: 'join', id: 'j', session: room, public: true });
    for (let i = 0; i < 3; i++)
      await warm.request({ type: 'send', id: `w${i}`, session: room, text: 'warm' });

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${stack.httpUrl(1)}/`);
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Session name').fill(room);
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByLabel('Message', { exact: true }).fill('an ordinary message');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    const ordinary = page.locator('[role="log"] li.message', { hasText: 'an ordinary message' });
    await ordinary.locator('[data-mark]').waitFor();

    await ordinary.getByRole('button').click();
    const journey = page.getByRole('complementary', { name: 'Journey' });
    await journey.getByText('collecting spans…').waitFor();
    await journey.getByText('This trace was not kept.').waitFor({ timeout: 20_000 });
    await journey.getByRole('button', { name: 'Resend with debug' }).click();
    await journey.getByText('Sent again with debug').waitFor();

    const resent = page.locator('[role="log"] li.message', { hasText: 'an ordinary message' });
    await waitFor(async () => (await resent.locator('[data-mark]').count()) === 2, {
      what: 'the resent message',
    });
    await resent.nth(1).getByRole('button').click();
    await journey.locator('table[aria-label="Waterfall"]').waitFor({ timeout: 30_000 });
    const send = journey.locator('tr[data-span="web.chat.send"]');
    expect(await send.getAttribute('title')).toContain('chat.debug = true');
    await context.close();
  });
});
