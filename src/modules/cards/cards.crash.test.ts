// Proves card operations stay exactly-once when the connection to the ledger breaks before or after it applied the legs: pending operations are finished before anything else happens on the card, a replacement's new card cannot be sold meanwhile, retries never charge twice, and policy limits hold for refunds and offline uploads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { createPool, type Pool } from '../../kernel/db.js';
import { MasterKey } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import type { Ledger } from '../ledger/index.js';
import { Parties, sampleResidentId, sampleUscc } from '../parties/index.js';
import { CardPurse, Cards, type CardProduct } from './index.js';

const clock = new ManualClock(Date.UTC(2026, 10, 22, 2, 0, 0));
let f: LedgerFixture;
let lockPool: Pool;
let cards: Cards;
let parties: Parties;
let merchantId: bigint;
let strangerId: bigint;
let holderA: bigint;
let holderB: bigint;
let named: CardProduct;
const faults = { before: 0, after: 0 };
let k = 0;
const key = (): string => `c${++k}`;
const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

async function merchant(n: number, active: boolean): Promise<bigint> {
  const c = await parties.createCustomer({ kind: 'organization', legalName: `商户${n}`, idType: 'uscc', idNumber: sampleUscc(200 + n), realNameLevel: 2 });
  if (!c.ok) throw new Error(c.code);
  const m = await parties.createMerchant({ customerId: c.value.id, displayName: `m${n}`, mcc: '5411', settlementCycle: 'T+1' });
  if (!m.ok) throw new Error(m.code);
  if (active) await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 't' });
  return m.value.id;
}

async function principal(id: bigint): Promise<bigint> {
  const b = await cards.balance(id);
  if (!b.ok) throw new Error(b.code);
  return b.value.principalMinor;
}

beforeAll(async () => {
  f = await ledgerFixture({ clock });
  lockPool = createPool(f.db.url, { max: 6 });
  const masterKey = MasterKey.generate();
  parties = new Parties({ pool: f.db.pool, clock, nextId: f.nextId, ledger: f.ledger, masterKey });
  // The real ledger behind a connection that can break just before or just after a request is applied.
  const ledger = Object.create(f.ledger) as Ledger;
  ledger.createTransfers = async (reqs) => {
    if (faults.before > 0) {
      faults.before--;
      throw Object.assign(new Error('connection reset (simulated)'), { code: 'ECONNRESET' });
    }
    const r = await f.ledger.createTransfers(reqs);
    if (faults.after > 0) {
      faults.after--;
      throw Object.assign(new Error('connection reset after commit (simulated)'), { code: 'ECONNRESET' });
    }
    return r;
  };
  // The batched consume path posts inside its own transaction: the same two faults, around it.
  ledger.transaction = async (fn, opts) => {
    if (faults.before > 0) {
      faults.before--;
      throw Object.assign(new Error('connection reset (simulated)'), { code: 'ECONNRESET' });
    }
    const r = await f.ledger.transaction(fn, opts);
    if (faults.after > 0) {
      faults.after--;
      throw Object.assign(new Error('connection reset after commit (simulated)'), { code: 'ECONNRESET' });
    }
    return r;
  };
  cards = new Cards({ pool: f.db.pool, lockPool, clock, nextId: f.nextId, ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' });
  merchantId = await merchant(1, true);
  strangerId = await merchant(2, true);
  for (const [i, set] of [[1, (v: bigint) => (holderA = v)], [2, (v: bigint) => (holderB = v)]] as const) {
    const h = await parties.createCustomer({ kind: 'individual', legalName: `持卡人${i}`, idType: 'resident_id', idNumber: sampleResidentId(300 + i), realNameLevel: 2 });
    if (!h.ok) throw new Error(h.code);
    set(h.value.id);
  }
  const p = await cards.createProduct({ code: 'CRASH', name: 'crash', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '6400', numberLength: 16, rechargeable: true });
  if (!p.ok) throw new Error(p.code);
  named = p.value.product;
  await cards.addAcceptingMerchant({ productId: named.id, merchantId });
});
afterAll(async () => {
  await lockPool?.end();
  await f.close();
});

async function sold(amount: bigint): Promise<bigint> {
  const b = await cards.issueBatch({ productId: named.id, count: 1 });
  if (!b.ok) throw new Error(b.code);
  const id = b.value.cards[0]!.id;
  const s = await cards.sell({ cardId: id, idempotencyKey: key(), amountMinor: amount, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderA });
  if (!s.ok) throw new Error(s.code);
  return id;
}

describe('interrupted card operations', () => {
  it('finishes an interrupted sale before a second sale can be planned, so the card is loaded once', async () => {
    const b = await cards.issueBatch({ productId: named.id, count: 1 });
    if (!b.ok) throw new Error(b.code);
    const id = b.value.cards[0]!.id;
    faults.before = 1;
    await expect(cards.sell({ cardId: id, idempotencyKey: 'sale-A', amountMinor: 3000_00n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderA })).rejects.toThrow();
    const second = await cards.sell({ cardId: id, idempotencyKey: 'sale-B', amountMinor: 3000_00n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderB });
    expect(code(second)).toBe('card_not_in_stock');
    expect(await principal(id)).toBe(3000_00n);
    const c = await cards.getCard(id);
    expect(c.ok && c.value.holderCustomerId).toBe(holderA);
  });

  it('charges once when the answer to a consume was lost and the terminal retries', async () => {
    const id = await sold(500_00n);
    faults.after = 1;
    await expect(cards.consume({ cardId: id, idempotencyKey: 'pay-1', amountMinor: 100_00n, merchantId })).rejects.toThrow();
    const retry = await cards.consume({ cardId: id, idempotencyKey: 'pay-1', amountMinor: 100_00n, merchantId });
    expect(code(retry)).toBe('ok');
    expect(await principal(id)).toBe(400_00n);
  });

  it('reserves a replacement\'s new card so it cannot be sold before the interrupted replacement finishes', async () => {
    const id = await sold(700_00n);
    await cards.changeState({ cardId: id, event: 'report_loss', reason: 't' });
    await cards.changeState({ cardId: id, event: 'confirm_loss', reason: 't' });
    faults.before = 1;
    await expect(cards.replace({ cardId: id, idempotencyKey: 'rep-1', paymentMethod: 'cash', reason: 'lost' })).rejects.toThrow();
    const stock = await cards.listCards({ productId: named.id, status: 'in_stock', limit: 50 });
    const successor = stock.find((c) => c.replacedFrom === id)!;
    expect(code(await cards.sell({ cardId: successor.id, idempotencyKey: key(), amountMinor: 300_00n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderB }))).toBe('card_not_in_stock');
    const done = await cards.replace({ cardId: id, idempotencyKey: 'rep-1', paymentMethod: 'cash', reason: 'lost' });
    expect(done.ok && done.value.newCard.id).toBe(successor.id);
    expect(await principal(successor.id)).toBe(700_00n);
  });

  it('answers idempotency_key_reused when one key is used on two cards at once', async () => {
    const a = await sold(100_00n);
    const b = await sold(100_00n);
    const rs = await Promise.all([cards.consume({ cardId: a, idempotencyKey: 'dup', amountMinor: 1n, merchantId }), cards.consume({ cardId: b, idempotencyKey: 'dup', amountMinor: 1n, merchantId })]);
    expect(rs.map(code).sort()).toEqual(['idempotency_key_reused', 'ok']);
  });
});

describe('limits on the way back in', () => {
  it('refuses a refund that would lift a named card over its balance limit', async () => {
    const id = await sold(5000_00n);
    const pay = await cards.consume({ cardId: id, idempotencyKey: key(), amountMinor: 1000_00n, merchantId });
    if (!pay.ok) throw new Error(pay.code);
    await cards.recharge({ cardId: id, idempotencyKey: key(), amountMinor: 1000_00n, paymentMethod: 'bank_transfer' });
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: pay.value.id, amountMinor: 1000_00n }))).toBe('card_balance_limit_exceeded');
    expect(await principal(id)).toBe(5000_00n);
  });

  it('counts the offline purse toward the limit and refuses uploads from merchants that do not take the card', async () => {
    const id = await sold(4000_00n);
    expect(code(await cards.purseLoad({ cardId: id, idempotencyKey: key(), amountMinor: 1000_00n }))).toBe('ok');
    // 3,000 principal + 1,000 on the purse: 1,000.01 more would pass the 5,000 limit.
    expect(code(await cards.recharge({ cardId: id, idempotencyKey: key(), amountMinor: 1000_01n, paymentMethod: 'bank_transfer' }))).toBe('card_balance_limit_exceeded');
    expect(code(await cards.recharge({ cardId: id, idempotencyKey: key(), amountMinor: 1000_00n, paymentMethod: 'bank_transfer' }))).toBe('ok');
    const chip = new CardPurse({ cardId: id.toString(), cardKey: cards.purseKey(id), balanceLimitMinor: 1000_00n, singleTxLimitMinor: 1000_00n, balanceMinor: 1000_00n });
    const d = chip.debit({ amountMinor: 10_00n, terminalId: 'X', merchantId: strangerId.toString(), occurredAt: new Date(Date.UTC(2026, 10, 22, 3)) });
    if (!d.ok) throw new Error('chip');
    const up = await cards.uploadOffline({ merchantId: strangerId, terminalId: 'X', records: [d.value] });
    expect(up.ok && up.value.results[0]!.code).toBe('merchant_not_accepted');
    expect((await f.ledger.verify()).violations).toEqual([]);
  });
});
