// Proves combined payments survive kill -9 of the server in the middle of their sagas: after a restart every payment either succeeded with its card hold captured once, or failed with the hold released — no card charged twice or left held, and `paycore ledger verify` passes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulators, type Simulators } from '../simulators/index.js';
import { createTestDb, type TestDb } from './support/db.js';
import { createTestMerchant, type TestMerchant } from './support/merchant.js';
import { freePort } from './support/net.js';
import { ensureBuilt, runCli, spawnServer, type ServerProcess } from './support/processes.js';
import type { TestServer } from './support/server.js';

const TOKEN = 'crash-test-admin-token-0123456789';
let db: TestDb;
let dataDir: string;
let sims: Simulators;
let server: ServerProcess;
let port: number;
let m: TestMerchant;

const client: Pick<TestServer, 'url' | 'req'> = {
  get url() {
    return `http://127.0.0.1:${port}`;
  },
  async req(method, path, body) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  },
};

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await client.req(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const start = () => spawnServer({
  databaseUrl: db.url, dataDir, adminToken: TOKEN, port,
  env: { PAYCORE_JOB_INTERVAL_MS: '100', PAYCORE_QUERY_BACKOFF_MS: '200,400', PAYCORE_NOTIFY_SCHEDULE_MS: '0,100', PAYCORE_CHANNEL_TIMEOUT_MS: '2000', PAYCORE_PUBLIC_URL: `http://127.0.0.1:${port}` },
});

beforeAll(async () => {
  ensureBuilt();
  db = await createTestDb();
  dataDir = mkdtempSync(join(tmpdir(), 'paycore-crash-'));
  sims = await startSimulators({ notifyRetryScheduleMs: [300, 600, 1200, 2400] });
  port = await freePort();
  server = await start();
  m = await createTestMerchant(client, { n: 601 });
  await ok('POST', '/v1/channel-accounts', { code: 'wx', provider: 'wechatpay', mode: 'aggregated', config: sims.wechatpay.config, methods: ['wechat_native'] });
}, 120_000);

afterAll(async () => {
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) await server.stop();
  await sims?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('combined payments across kill -9', () => {
  it('completes or compensates every payment a crash interrupted', async () => {
    const product = await ok('POST', '/v1/card-products', { code: 'CRASH', name: 'crash', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6602', number_length: 16, rechargeable: true, validity_months: 36 });
    await ok('POST', `/v1/card-products/${product.id}/merchants`, { merchant_id: m.id });
    const cards: string[] = (await ok('POST', `/v1/card-products/${product.id}/batches`, { count: 8 })).cards.map((c: any) => c.id);
    for (const c of cards) await ok('POST', `/v1/cards/${c}/sell`, { idempotency_key: `sell-${c}`, amount: 10_000, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true });
    const orders: { orderNo: string; card: string; trade: string; result: 'success' | 'fail' }[] = [];
    for (const [i, card] of cards.entries()) {
      const o = (await m.signed('POST', '/v1/merchant/orders', { merchant_order_no: `CRASH${Date.now()}${i}`, amount: 1000, subject: 'crash', notify_url: 'http://127.0.0.1:9/n', methods: ['card', 'wechat_native'] })).body;
      const u = new URL(o.cashier_url);
      const paid = await ok('POST', `${u.pathname}/pay${u.search}`, { legs: [{ kind: 'card', card_id: card, amount: 600 }, { kind: 'channel', method: 'wechat_native', amount: 400 }] });
      const trade = paid.legs.find((l: any) => l.kind === 'channel').out_trade_no;
      orders.push({ orderNo: o.order_no, card, trade, result: i % 2 === 0 ? 'success' : 'fail' });
    }
    // The payers act; their notifications and the server's captures and releases are in flight when it dies.
    await Promise.all(orders.map((o) => fetch(`${sims.wechatpay.sim.url}/__sim/trades/${o.trade}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: o.result }) })));
    await new Promise((r) => setTimeout(r, 150));
    await server.kill9();
    server = await start();
    const end = Date.now() + 90_000;
    const state = async (o: (typeof orders)[number]) => (await m.signed('GET', `/v1/merchant/orders/${o.orderNo}`)).body.status as string;
    for (;;) {
      const states = await Promise.all(orders.map(state));
      if (states.every((st, i) => st === (orders[i]!.result === 'success' ? 'succeeded' : 'created'))) break;
      if (Date.now() > end) throw new Error(`orders did not settle: ${JSON.stringify(states)}\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const o of orders) {
      const card = await ok('GET', `/v1/cards/${o.card}`);
      expect([card.balances.principal, card.balances.held], `card of ${o.orderNo}`).toEqual(o.result === 'success' ? [9_400, 0] : [10_000, 0]);
    }
    await server.stop();
    const v = runCli(['ledger', 'verify', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(v.code, v.out).toBe(0);
  }, 180_000);
});
