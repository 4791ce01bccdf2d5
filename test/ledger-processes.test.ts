// Proves the ledger with real server processes: two processes on one database never overdraw (100 concurrent debits, exactly 10 covered), and after kill -9 mid-write every acknowledged transfer exists exactly once and `paycore ledger verify` passes.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleUscc } from '../src/modules/parties/index.js';
import { createTestDb, type TestDb } from './support/db.js';
import { ensureBuilt, runCli, spawnServer, type ServerProcess } from './support/processes.js';

const TOKEN = 'test-admin-token-for-processes-0123';
let db: TestDb;
let dataDir: string;
const servers: ServerProcess[] = [];

async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function account(url: string, body: Record<string, unknown>): Promise<string> {
  const r = await call(url, 'POST', '/v1/accounts', { currency: 'CNY', ...body });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

beforeAll(async () => {
  ensureBuilt();
  db = await createTestDb();
  dataDir = mkdtempSync(join(tmpdir(), 'paycore-proc-'));
  servers.push(await spawnServer({ databaseUrl: db.url, dataDir, adminToken: TOKEN }));
  servers.push(await spawnServer({ databaseUrl: db.url, dataDir, adminToken: TOKEN }));
}, 120_000);

afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.kill9();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('two server processes on one database', () => {
  it('lets exactly 10 of 100 concurrent debits through when the balance covers exactly 10', async () => {
    const [a, b] = [servers[0]!.url, servers[1]!.url];
    const bank = await account(a, { type: 'asset', subject_code: '101101' });
    const card = await account(a, { type: 'liability', subject_code: '225102', debits_must_not_exceed_credits: true });
    const shop = await account(b, { type: 'liability', subject_code: '225101' });
    expect((await call(a, 'POST', '/v1/transfers', { idempotency_key: 'load', debit_account_id: bank, credit_account_id: card, amount: 1000, currency: 'CNY' })).status).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        call(i % 2 ? a : b, 'POST', '/v1/transfers', { idempotency_key: `debit-${i}`, debit_account_id: card, credit_account_id: shop, amount: 100, currency: 'CNY' }),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 422);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(90);
    expect(new Set(refused.map((r) => r.body.error.code))).toEqual(new Set(['insufficient_funds']));
    const c = await call(b, 'GET', `/v1/accounts/${card}`);
    expect(c.body.balances).toMatchObject({ posted: 0, available: 0, debits_posted: 1000 });
  });

  it('never deadlocks when both processes move money both ways across the same accounts', async () => {
    const [a, b] = [servers[0]!.url, servers[1]!.url];
    const bank = await account(a, { type: 'asset', subject_code: '101101' });
    const accts: string[] = [];
    for (let i = 0; i < 6; i++) accts.push(await account(a, { type: 'liability', subject_code: '225103', debits_must_not_exceed_credits: true }));
    for (const [i, x] of accts.entries()) {
      expect((await call(a, 'POST', '/v1/transfers', { idempotency_key: `ring-fund-${i}`, debit_account_id: bank, credit_account_id: x, amount: 1_000_000, currency: 'CNY' })).status).toBe(201);
    }
    // Batches of transfers in opposite directions over overlapping accounts, from both processes at once.
    const batch = (p: number, k: number) => ({
      transfers: Array.from({ length: 30 }, (_, j) => {
        const from = accts[(j + k) % 6]!;
        const to = accts[(p === 0 ? j + k + 1 : j + k + 5) % 6]!;
        return { idempotency_key: `ring-${p}-${k}-${j}`, debit_account_id: from, credit_account_id: to, amount: 1 + j, currency: 'CNY', linked: j % 3 !== 2 };
      }),
    });
    const all = await Promise.all(Array.from({ length: 20 }, (_, k) => call(k % 2 ? a : b, 'POST', '/v1/transfers/batch', batch(k % 2, k))));
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.body.results.every((x: any) => x.ok)).toBe(true);
    }
    expect((await call(a, 'GET', '/v1/ledger/verify')).body.ok).toBe(true);
  });
});

describe('crash', () => {
  it('keeps every acknowledged transfer exactly once across kill -9 and restart', async () => {
    const s = servers[0]!;
    const bank = await account(s.url, { type: 'asset', subject_code: '101101' });
    const wallets: string[] = [];
    for (let i = 0; i < 5; i++) wallets.push(await account(s.url, { type: 'liability', subject_code: '225103' }));
    const sentKeys = new Map<string, { wallet: string; amount: number }>();
    const acked = new Map<string, number>();
    let next = 0;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      while (!stop) {
        const n = next++;
        const key = `crash-${w}-${n}`;
        const amount = 1 + (n % 97);
        const wallet = wallets[n % 5]!;
        sentKeys.set(key, { wallet, amount });
        try {
          const r = await call(s.url, 'POST', '/v1/transfers', { idempotency_key: key, debit_account_id: bank, credit_account_id: wallet, amount, currency: 'CNY' });
          if (r.status === 201) acked.set(key, amount);
        } catch {
          return; // The server died under us; this request's outcome is unknown.
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acked.size < 200) await new Promise((r) => setTimeout(r, 10));
    await s.kill9();
    stop = true;
    await Promise.all(writers);

    const restarted = await spawnServer({ databaseUrl: db.url, dataDir, adminToken: TOKEN });
    servers.push(restarted);
    const verify = runCli(['ledger', 'verify', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(verify.out).toContain('every invariant holds');
    expect(verify.code).toBe(0);
    for (const [key, amount] of acked) {
      const r = await call(restarted.url, 'GET', `/v1/transfers?idempotency_key=${key}`);
      expect(r.body.data).toHaveLength(1);
      expect(r.body.data[0].amount).toBe(amount);
    }
    // The client retries every request whose answer it did not see, and re-sends the acknowledged
    // ones too: acknowledged ones come back as the original (200), the rest apply once.
    for (const [key, t] of sentKeys) {
      const r = await call(restarted.url, 'POST', '/v1/transfers', { idempotency_key: key, debit_account_id: bank, credit_account_id: t.wallet, amount: t.amount, currency: 'CNY' });
      expect([200, 201]).toContain(r.status);
      if (acked.has(key)) expect(r.status).toBe(200);
    }
    // Now every sent transfer exists exactly once: each wallet holds exactly the sum sent to it.
    for (const w of wallets) {
      const expected = [...sentKeys.values()].filter((t) => t.wallet === w).reduce((a, t) => a + t.amount, 0);
      const acct = await call(restarted.url, 'GET', `/v1/accounts/${w}`);
      expect(acct.body.balances.posted).toBe(expected);
    }
    expect(runCli(['ledger', 'verify', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir }).code).toBe(0);
  });
});

describe('ledger verify', () => {
  it('exits non-zero and names the broken invariant when a balance was changed behind the ledger', async () => {
    const url = servers.find((x) => x.proc.exitCode === null && x.proc.signalCode === null)!.url;
    const bank = await account(url, { type: 'asset', subject_code: '101101' });
    const wallet = await account(url, { type: 'liability', subject_code: '225103' });
    expect((await call(url, 'POST', '/v1/transfers', { idempotency_key: 'verify-fund', debit_account_id: bank, credit_account_id: wallet, amount: 50, currency: 'CNY' })).status).toBe(201);
    const id = BigInt(wallet);
    // Tamper with one balance directly in SQL, as a buggy script or a bad manual fix would.
    await db.pool.query('UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = $1', [id]);
    const v = runCli(['ledger', 'verify', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(v.out).toContain('FAIL');
    expect(v.code, v.out).toBe(1);
    expect(v.out).toContain('FAIL debits_equal_credits_per_currency');
    expect(v.out).toContain('FAIL balances_equal_sum_of_postings');
    expect(v.out).toContain(id.toString());
    await db.pool.query('UPDATE accounts SET credits_posted = credits_posted - 1 WHERE id = $1', [id]);
    expect(runCli(['ledger', 'verify', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir }).code).toBe(0);
  });
});

describe('card CLI', () => {
  it('issues a batch to a private file and prints the outstanding report as CSV', async () => {
    const url = servers.find((x) => x.proc.exitCode === null && x.proc.signalCode === null)!.url;
    const p = await call(url, 'POST', '/v1/card-products', { code: 'CLI-GIFT', name: 'cli', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6201', number_length: 16, rechargeable: false, validity_months: 36 });
    expect(p.status).toBe(201);
    const out = join(dataDir, 'numbers.csv');
    const issued = runCli(['cards', 'issue', '--product', p.body.id, '--count', '2', '--out', out, '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(issued.code, issued.out).toBe(0);
    expect(issued.out).not.toMatch(/6201\d{12}/);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('card_id,number');
    expect(lines.slice(1).every((l) => /^\d+,6201\d{12}$/.test(l))).toBe(true);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const report = runCli(['cards', 'report', 'outstanding', '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(report.code).toBe(0);
    expect(report.out).toContain('product_id,product_code,issuer_kind');
    expect(report.out).toContain('CLI-GIFT');
  });

  it('offline-demo spends a simulated chip with a torn debit and applies each debit once', async () => {
    const url = servers.find((x) => x.proc.exitCode === null && x.proc.signalCode === null)!.url;
    const org = await call(url, 'POST', '/v1/customers', { kind: 'organization', legal_name: '演示商户', id_type: 'uscc', id_number: sampleUscc(501), real_name_level: 2 });
    const m = await call(url, 'POST', '/v1/merchants', { customer_id: org.body.id, display_name: 'demo', mcc: '5411', settlement_cycle: 'T+1' });
    await call(url, 'POST', `/v1/merchants/${m.body.id}/status`, { status: 'active', reason: 't' });
    const p = await call(url, 'POST', '/v1/card-products', { code: 'DEMO', name: 'demo', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6202', number_length: 16, rechargeable: true, validity_months: 36 });
    await call(url, 'POST', `/v1/card-products/${p.body.id}/merchants`, { merchant_id: m.body.id });
    const batch = await call(url, 'POST', `/v1/card-products/${p.body.id}/batches`, { count: 1 });
    const card = batch.body.cards[0].id as string;
    await call(url, 'POST', `/v1/cards/${card}/sell`, { idempotency_key: 'demo-sell', amount: 10000, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true });
    await call(url, 'POST', `/v1/cards/${card}/purse-load`, { idempotency_key: 'demo-load', amount: 3000 });
    const demo = runCli(['cards', 'offline-demo', '--card', card, '--merchant', m.body.id, '--database-url', db.url], { PAYCORE_DATA_DIR: dataDir });
    expect(demo.code, demo.out).toBe(0);
    expect(demo.out).toContain('torn; retry with the same card -> already_debited');
    expect(demo.out).toContain('upload: ATC 1 applied, ATC 2 applied; applied 800 fen');
    expect(demo.out).toContain('upload again: ATC 1 duplicate, ATC 2 duplicate; applied 0 fen');
    expect(demo.out).toContain('chip purse 2200 fen, platform purse 2200 fen');
  });
});
