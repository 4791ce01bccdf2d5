// Proves the cashier page escapes merchant text in HTML and script, formats fen amounts exactly, and in a real Chromium shows a WeChat QR code URL after a click and then 支付成功 once polling sees success.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { cashierPage, escapeHtml, formatAmount, scriptJson, type CashierState } from '../src/http/routes/cashier.page.js';

const HOSTILE_SCRIPT = '</script><script>window.__pwned = 1</script>';
const HOSTILE_ATTR = '"><img src=x onerror=alert(1)>';

function state(over: Partial<CashierState> = {}): CashierState {
  return {
    order_no: 'P20250101000000010001', subject: '测试商品 Test item', amount: 12345, currency: 'CNY', status: 'created', failure_code: null,
    expires_at: new Date(Date.now() + 15 * 60_000).toISOString(), methods: ['wechat_native', 'alipay_qr', 'bank_quick'], action: null, return_url: null, ...over,
  };
}

/** The two inline scripts of a page: the BOOT state and the behaviour. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
}

describe('cashierPage (unit)', () => {
  it('formats integer fen exactly', () => {
    expect(formatAmount(1, 'CNY')).toBe('¥0.01');
    expect(formatAmount(100, 'CNY')).toBe('¥1.00');
    expect(formatAmount(12345, 'CNY')).toBe('¥123.45');
    expect(formatAmount(Number.MAX_SAFE_INTEGER, 'CNY')).toBe('¥90071992547409.91');
    expect(formatAmount(500, 'JPY')).toBe('JPY 500');
    expect(cashierPage(state({ amount: 1 }), 'tok')).toContain('>¥0.01<');
    expect(cashierPage(state({ amount: 100 }), 'tok')).toContain('>¥1.00<');
    expect(cashierPage(state({ amount: 12345 }), 'tok')).toContain('>¥123.45<');
  });

  it('escapes a hostile subject in HTML', () => {
    for (const subject of [HOSTILE_SCRIPT, HOSTILE_ATTR]) {
      const html = cashierPage(state({ subject }), 'tok');
      expect(html).toContain(escapeHtml(subject));
      expect(html).not.toContain('<img');
      expect(html).not.toContain('__pwned = 1</script>');
      expect(html.match(/<script/g)).toHaveLength(2);
      expect(html.match(/<\/script>/g)).toHaveLength(2);
    }
    expect(escapeHtml(HOSTILE_ATTR)).toBe('&#34;&#62;&#60;img src=x onerror=alert(1)&#62;');
  });

  it('embeds script state that cannot break out of its <script> and parses back unchanged', () => {
    const nasty = `${HOSTILE_SCRIPT}<!--\u2028\u2029&`;
    expect(scriptJson({ s: nasty })).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(scriptJson({ s: nasty }))).toEqual({ s: nasty });
    const action = { type: 'qr_code', codeUrl: `weixin://wxpay/bizpayurl?pr=${nasty}` };
    const html = cashierPage(state({ action, return_url: `https://shop.example/${nasty}`, order_no: 'X<!--' }), `t${HOSTILE_SCRIPT}`);
    const [boot, client] = scripts(html);
    expect(scripts(html)).toHaveLength(2);
    const json = /^const BOOT = (.*);$/s.exec(boot ?? '')?.[1];
    expect(JSON.parse(json ?? 'null')).toMatchObject({ action, token: `t${HOSTILE_SCRIPT}`, orderNo: 'X<!--', returnUrl: `https://shop.example/${nasty}` });
    // The behaviour script must at least compile; the browser test below runs it.
    expect(() => new Function(client ?? '')).not.toThrow();
  });

  it('offers one button per channel method and the combined form only for card or balance', () => {
    const plain = cashierPage(state(), 'tok');
    expect(plain).toContain('data-method="wechat_native">微信支付(扫码)');
    expect(plain).toContain('data-method="alipay_qr">支付宝(扫码)');
    expect(plain).not.toContain('网银支付');
    expect(plain).toMatch(/name="cardNo"[\s\S]*name="holderName"[\s\S]*name="idNumber"[\s\S]*name="phone"/);
    expect(plain).not.toContain('id="combo"');
    const combined = cashierPage(state({ methods: ['card', 'unionpay_qr', 'bank_gateway'] }), 'tok');
    expect(combined).toContain('id="combo"');
    expect(combined).toContain('<option value="unionpay_qr">云闪付/银联二维码</option>');
    expect(combined).not.toContain('data-method="card"');
    expect(combined).not.toContain('name="cardNo"');
  });
});

// ---- real browser -----------------------------------------------------------------------------

/** The few playwright-core calls this test makes; the package is optional, so it is loaded at run time. */
interface Page {
  goto(url: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  waitForSelector(selector: string, opts?: { timeout?: number }): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  getAttribute(selector: string, name: string): Promise<string | null>;
  evaluate<T>(fn: () => T): Promise<T>;
  on(event: 'pageerror', cb: (e: Error) => void): void;
}
interface Browser { newPage(): Promise<Page>; close(): Promise<void> }
interface PlaywrightCore { chromium: { launch(opts: { executablePath: string; headless: boolean; args: string[] }): Promise<Browser> } }

const CHROMIUM = '/usr/bin/chromium';
function loadPlaywright(): PlaywrightCore | null {
  try {
    return createRequire(import.meta.url)('playwright-core') as PlaywrightCore;
  } catch {
    return null;
  }
}
const playwright = loadPlaywright();
const skipReason = !playwright ? 'playwright-core is not installed in node_modules' : !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : null;

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

describe('cashierPage (Chromium)', () => {
  let server: Server | undefined;
  afterAll(async () => {
    server?.close();
  });

  it('asks for the risk step-up code, then shows the QR code URL and 支付成功 once paid (Debian chromium through playwright-core)', async () => {
    // .ci/run installs chromium; playwright-core is a dev dependency. Missing either is a failure, not a skip.
    if (skipReason !== null) throw new Error(skipReason);
    const codeUrl = 'weixin://wxpay/bizpayurl?pr=Abc123';
    const base = state({ order_no: 'X', subject: HOSTILE_SCRIPT, methods: ['wechat_native', 'alipay_qr'] });
    const payBodies: unknown[] = [];
    const challengeBodies: unknown[] = [];
    let statusAfterPay = 0;
    server = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
        if (url.searchParams.get('t') !== 'tok') return void res.writeHead(404).end();
        if (req.method === 'GET' && url.pathname === '/cashier/X') {
          return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:" }).end(cashierPage(base, 'tok'));
        }
        if (req.method === 'POST' && url.pathname === '/cashier/X/pay') {
          payBodies.push(JSON.parse(await body(req)));
          // Risk control asks for a step-up first.
          return void res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ ...base, outcome: 'challenge', challenge_id: '77' }));
        }
        if (req.method === 'POST' && url.pathname === '/cashier/X/challenge') {
          challengeBodies.push(JSON.parse(await body(req)));
          return json({ ...base, status: 'processing', action: { type: 'qr_code', codeUrl }, outcome: 'cleared' });
        }
        if (req.method === 'GET' && url.pathname === '/cashier/X/status') {
          if (challengeBodies.length === 0) return json(base);
          statusAfterPay += 1;
          return json(statusAfterPay === 1 ? { ...base, status: 'processing', action: { type: 'qr_code', codeUrl } } : { ...base, status: 'succeeded', return_url: 'https://shop.example/done' });
        }
        res.writeHead(404).end();
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;

    const browser = await playwright!.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/cashier/X?t=tok`);
      expect(await page.textContent('#subject')).toBe(HOSTILE_SCRIPT);
      // The page runs in the browser, where globalThis is window: a broken-out script would have set __pwned.
      expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.textContent('#amount')).toBe('¥123.45');

      await page.click('button[data-method="wechat_native"]');
      // The risk step-up: the payer types the code sent to them.
      await page.waitForSelector('#stepup input[name="code"]', { timeout: 10_000 });
      await page.fill('#stepup input[name="code"]', '123456');
      await page.click('#stepup button[type="submit"]');
      await page.waitForSelector('#code-url', { timeout: 10_000 });
      expect(await page.textContent('#code-url')).toBe(codeUrl);
      expect(payBodies).toEqual([{ method: 'wechat_native', device_id: expect.stringMatching(/^[0-9a-f]{24}$/) }]);
      expect(challengeBodies).toEqual([{ challenge_id: '77', code: '123456' }]);

      await page.waitForSelector('#result h2.ok', { timeout: 15_000 });
      expect(await page.textContent('#result h2')).toContain('支付成功');
      expect(await page.getAttribute('#result a', 'href')).toBe('https://shop.example/done');
      expect(statusAfterPay).toBeGreaterThanOrEqual(2);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
