// Proves the online card flows against real PostgreSQL and the real ledger: products and policy limits, batch issue with non-sequential Luhn numbers, sale, recharge with bonus, consume with acceptance and PIN, void, partial refunds, loss report and replacement moving the balance exactly once, concurrency and idempotency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { createPool, type Pool } from '../../kernel/db.js';
import { MasterKey, Secret } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { Parties, sampleResidentId, sampleUscc } from '../parties/index.js';
import { isValidLuhn } from './domain/card-number.js';
import { Cards, type Card, type CardProduct } from './index.js';

const clock = new ManualClock(Date.UTC(2026, 10, 22, 2, 0, 0));
let f: LedgerFixture;
let parties: Parties;
let cards: Cards;
let masterKey: MasterKey;
let merchantId: bigint;
let otherMerchantId: bigint;
let holderId: bigint;
let named: CardProduct;
let anon: CardProduct;
let lockPool: Pool;
let n = 0;
const key = (): string => `k${++n}`;
const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

async function activeMerchant(): Promise<bigint> {
  n++;
  const c = await parties.createCustomer({ kind: 'organization', legalName: `商户 ${n}`, idType: 'uscc', idNumber: sampleUscc(n), realNameLevel: 2 });
  if (!c.ok) throw new Error(c.code);
  const m = await parties.createMerchant({ customerId: c.value.id, displayName: `m${n}`, mcc: '5411', settlementCycle: 'T+1' });
  if (!m.ok) throw new Error(m.code);
  const a = await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 'test' });
  if (!a.ok) throw new Error(a.code);
  return m.value.id;
}

async function soldCard(p: CardProduct, amount: bigint): Promise<Card> {
  const b = await cards.issueBatch({ productId: p.id, count: 1 });
  if (!b.ok) throw new Error(b.code);
  const card = b.value.cards[0]!;
  const s = await cards.sell({ cardId: card.id, idempotencyKey: key(), amountMinor: amount, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, ...(p.named ? { holderCustomerId: holderId } : {}) });
  if (!s.ok) throw new Error(`${s.code}: ${s.message}`);
  return (await cards.getCard(card.id)).ok ? ((await cards.getCard(card.id)) as { ok: true; value: Card }).value : card;
}

async function bal(id: bigint): Promise<[bigint, bigint]> {
  const b = await cards.balance(id);
  if (!b.ok) throw new Error(b.code);
  return [b.value.principalMinor, b.value.bonusMinor];
}

beforeAll(async () => {
  f = await ledgerFixture({ clock });
  masterKey = MasterKey.generate();
  parties = new Parties({ pool: f.db.pool, clock, nextId: f.nextId, ledger: f.ledger, masterKey });
  lockPool = createPool(f.db.url, { max: 8 });
  cards = new Cards({ pool: f.db.pool, lockPool, clock, nextId: f.nextId, ledger: f.ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' });
  merchantId = await activeMerchant();
  otherMerchantId = await activeMerchant();
  const h = await parties.createCustomer({ kind: 'individual', legalName: '持卡人', idType: 'resident_id', idNumber: sampleResidentId(7), realNameLevel: 2 });
  if (!h.ok) throw new Error(h.code);
  holderId = h.value.id;
  const np = await cards.createProduct({
    code: 'GIFT-NAMED', name: '记名礼品卡', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '8888', numberLength: 16, rechargeable: true,
    issuanceFeeMinor: 500n, replacementFeeMinor: 1000n, bonusRules: [{ minRechargeMinor: 100_00n, bonusMinor: 10_00n }, { minRechargeMinor: 200_00n, bonusMinor: 30_00n }],
  });
  if (!np.ok) throw new Error(`${np.code}: ${np.message}`);
  named = np.value.product;
  const ap = await cards.createProduct({ code: 'GIFT-ANON', name: '不记名卡', issuerKind: 'platform', purpose: 'multi', named: false, binPrefix: '8889', numberLength: 16, rechargeable: false, validityMonths: 36 });
  if (!ap.ok) throw new Error(`${ap.code}: ${ap.message}`);
  anon = ap.value.product;
  for (const p of [named, anon]) expect((await cards.addAcceptingMerchant({ productId: p.id, merchantId })).ok).toBe(true);
});
afterAll(async () => {
  cards?.close();
  await lockPool?.end();
  await f.close();
});

describe('products', () => {
  it('refuses products that break the policy', async () => {
    expect(code(await cards.createProduct({ code: 'BAD1', name: 'x', issuerKind: 'platform', purpose: 'multi', named: false, binPrefix: '7001', numberLength: 16, rechargeable: false, validityMonths: 12 }))).toBe('card_validity_too_short');
    expect(code(await cards.createProduct({ code: 'BAD2', name: 'x', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '7002', numberLength: 16, rechargeable: false, validityMonths: 60 }))).toBe('named_card_expiry_not_allowed');
    expect(code(await cards.createProduct({ code: 'BAD3', name: 'x', issuerKind: 'platform', purpose: 'single', named: true, binPrefix: '7003', numberLength: 16, rechargeable: false }))).toBe('invalid_product');
    expect(code(await cards.createProduct({ code: 'BAD4', name: 'x', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '7004', numberLength: 16, rechargeable: false, balanceLimitMinor: 6000_00n }))).toBe('policy_override_looser');
  });
});

describe('product policy tuning', () => {
  const base = { name: 'x', issuerKind: 'platform' as const, purpose: 'multi' as const, named: true, numberLength: 16, rechargeable: true };
  it('applies stricter rules to the product\'s decisions and records them under a new version', async () => {
    const p = await cards.createProduct({ ...base, code: 'STRICT', binPrefix: '7010', policy: { rules: { rechargeTransfer: { singleRechargeMinor: 1000_00 } } } });
    if (!p.ok) throw new Error(`${p.code}: ${p.message}`);
    expect(p.value.product.policyVersion).toBe('cn-2012-v1/STRICT');
    await cards.addAcceptingMerchant({ productId: p.value.product.id, merchantId });
    const card = await soldCard(p.value.product, 1_00n);
    const cash = await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 1000_00n, paymentMethod: 'cash' });
    expect(code(cash)).toBe('bank_transfer_required');
    const ok = await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 999_99n, paymentMethod: 'cash' });
    expect(ok.ok && ok.value.policyVersion).toBe('cn-2012-v1/STRICT');
  });

  it('refuses looser rules unless allowed with a reason, and refuses unknown or mistyped rules', async () => {
    const looser = { rechargeTransfer: { singleRechargeMinor: 8000_00 } };
    expect(code(await cards.createProduct({ ...base, code: 'LOOSE1', binPrefix: '7011', policy: { rules: looser } }))).toBe('policy_override_looser');
    expect(code(await cards.createProduct({ ...base, code: 'LOOSE2', binPrefix: '7012', policy: { rules: looser, allowLooser: true } }))).toBe('invalid_policy_override');
    expect(code(await cards.createProduct({ ...base, code: 'LOOSE3', binPrefix: '7013', policy: { rules: { noSuchRule: { x: 1 } } } }))).toBe('invalid_policy_override');
    expect(code(await cards.createProduct({ ...base, code: 'LOOSE4', binPrefix: '7014', policy: { rules: { creditCardFunding: { allowed: 'yes' } } } }))).toBe('invalid_policy_override');
    const rules = { ...looser, balanceLimit: { namedMaxMinor: 10_000_00 } };
    const allowed = await cards.createProduct({ ...base, code: 'LOOSE5', binPrefix: '7015', policy: { rules, allowLooser: true, looserReason: 'PBOC notice raising the thresholds' } });
    if (!allowed.ok) throw new Error(allowed.code);
    await cards.addAcceptingMerchant({ productId: allowed.value.product.id, merchantId });
    const card = await soldCard(allowed.value.product, 1_00n);
    // 6,000 in cash: refused by the default (5,000 needs a bank transfer, and the balance limit is 5,000), allowed here.
    expect(code(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 6000_00n, paymentMethod: 'cash' }))).toBe('ok');
    const strict = await soldCard(named, 1_00n);
    expect(code(await cards.recharge({ cardId: strict.id, idempotencyKey: key(), amountMinor: 6000_00n, paymentMethod: 'cash' }))).not.toBe('ok');
  });
});

describe('issue and sale', () => {
  it('issues non-sequential Luhn-valid numbers, stored sealed and found by number', async () => {
    const b = await cards.issueBatch({ productId: anon.id, count: 5 });
    if (!b.ok) throw new Error(b.code);
    const numbers = await cards.batchNumbers(b.value.batchId);
    expect(numbers).toHaveLength(5);
    const plain = numbers.map((x) => x.number.reveal());
    for (const no of plain) {
      expect(no).toMatch(/^8889\d{12}$/);
      expect(isValidLuhn(no)).toBe(true);
    }
    expect(new Set(plain).size).toBe(5);
    expect(Math.abs(Number(plain[1]!.slice(4, 15)) - Number(plain[0]!.slice(4, 15)))).toBeGreaterThan(10);
    const found = await cards.findCardByNumber(plain[2]!);
    expect(found.ok && found.value.id).toBe(numbers[2]!.cardId);
    const row = await f.db.pool.query('SELECT number_sealed FROM cards WHERE id = $1', [numbers[2]!.cardId]);
    expect(JSON.stringify(row.rows)).not.toContain(plain[2]!);
  });

  it('sells a named card with its holder, posts the load and the fee, and enforces the limits', async () => {
    const b = await cards.issueBatch({ productId: named.id, count: 3 });
    if (!b.ok) throw new Error(b.code);
    const [c1, c2, c3] = b.value.cards;
    expect(code(await cards.sell({ cardId: c1!.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true }))).toBe('holder_required');
    expect(code(await cards.sell({ cardId: c1!.id, idempotencyKey: key(), amountMinor: 5000_01n, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId }))).toBe('card_balance_limit_exceeded');
    expect(code(await cards.sell({ cardId: c1!.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'credit_card', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId }))).toBe('credit_card_not_allowed');
    expect(code(await cards.sell({ cardId: c2!.id, idempotencyKey: key(), amountMinor: 4999_00n, paymentMethod: 'cash', buyerKind: 'organization', buyerRealName: true, holderCustomerId: holderId }))).toBe('bank_transfer_required');
    const sale = await cards.sell({ cardId: c1!.id, idempotencyKey: 'sale-1', amountMinor: 5000_00n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId });
    expect(code(sale)).toBe('ok');
    const again = await cards.sell({ cardId: c1!.id, idempotencyKey: 'sale-1', amountMinor: 5000_00n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId });
    expect(again.ok && sale.ok && again.value.id === sale.value.id).toBe(true);
    expect(code(await cards.sell({ cardId: c1!.id, idempotencyKey: key(), amountMinor: 1n, paymentMethod: 'cash', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId }))).toBe('card_not_in_stock');
    expect(await bal(c1!.id)).toEqual([5000_00n, 0n]);
    const card = await cards.getCard(c1!.id);
    expect(card.ok && [card.value.status, card.value.holderCustomerId, card.value.validUntil]).toEqual(['active', holderId, null]);
    // Nothing was written for the refused attempts on c3.
    const c3card = await cards.getCard(c3!.id);
    expect(c3card.ok && c3card.value.status).toBe('in_stock');
  });
});

describe('purchases of several cards', () => {
  it('judges real name and cash on the purchase total, so splitting cannot dodge the thresholds', async () => {
    const b = await cards.issueBatch({ productId: anon.id, count: 11 });
    if (!b.ok) throw new Error(b.code);
    const items = b.value.cards.map((c) => ({ cardId: c.id, amountMinor: 1000_00n }));
    // Eleven anonymous cards of 1,000: 11,000 in one purchase needs the buyer's real name.
    expect(code(await cards.sellPurchase({ idempotencyKey: key(), cards: items, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: false }))).toBe('real_name_required');
    // An organization paying 2,000 in cash for two cards is fine; 6,000 is not.
    expect(code(await cards.sellPurchase({ idempotencyKey: key(), cards: items.slice(0, 6), paymentMethod: 'cash', buyerKind: 'organization', buyerRealName: true }))).toBe('bank_transfer_required');
    const r = await cards.sellPurchase({ idempotencyKey: 'purchase-1', cards: items, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true });
    expect(r.ok && r.value.transactions).toHaveLength(11);
    const again = await cards.sellPurchase({ idempotencyKey: 'purchase-1', cards: items, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true });
    expect(again.ok && r.ok && again.value.saleId).toBe(r.ok ? r.value.saleId : 0n);
    for (const item of items) expect(await bal(item.cardId)).toEqual([1000_00n, 0n]);
  });
});

describe('recharge and consume', () => {
  it('recharges with the bonus rule and refuses going over the balance limit', async () => {
    const card = await soldCard(named, 1000_00n);
    const r = await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 200_00n, paymentMethod: 'bank_transfer' });
    expect(r.ok && [r.value.principalAmount, r.value.bonusAmount]).toEqual([200_00n, 30_00n]);
    expect(await bal(card.id)).toEqual([1200_00n, 30_00n]);
    expect(code(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 3800_01n, paymentMethod: 'bank_transfer' }))).toBe('card_balance_limit_exceeded');
    expect(code(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 5000_00n, paymentMethod: 'cash' }))).toBe('bank_transfer_required');
  });

  it('consumes principal first, then bonus; refuses unaccepted merchants and overdrafts', async () => {
    const card = await soldCard(named, 100_00n);
    await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' });
    expect(await bal(card.id)).toEqual([200_00n, 10_00n]);
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId: otherMerchantId }))).toBe('merchant_not_accepted');
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 210_01n, merchantId }))).toBe('insufficient_balance');
    const c = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 205_00n, merchantId, terminalId: 'T1' });
    expect(c.ok && [c.value.principalAmount, c.value.bonusAmount]).toEqual([200_00n, 5_00n]);
    expect(await bal(card.id)).toEqual([0n, 5_00n]);
  });

  it('lets exactly as many concurrent consumes through as the balance covers', async () => {
    const card = await soldCard(anon, 1000_00n);
    const results = await Promise.all(Array.from({ length: 30 }, () => cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, merchantId })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(new Set(results.filter((r) => !r.ok).map(code))).toEqual(new Set(['insufficient_balance']));
    expect(await bal(card.id)).toEqual([0n, 0n]);
  });

  it('checks the PIN, counts failures and locks the card', async () => {
    const card = await soldCard(anon, 100_00n);
    expect(code(await cards.setPin({ cardId: card.id, pin: new Secret('123456') }))).toBe('pin_too_simple');
    expect(code(await cards.setPin({ cardId: card.id, pin: new Secret('385172') }))).toBe('ok');
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId }))).toBe('pin_required');
    for (let i = 0; i < 4; i++) expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId, pin: new Secret('000001') }))).toBe('pin_incorrect');
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId, pin: new Secret('385172') }))).toBe('ok');
    for (let i = 0; i < 5; i++) await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId, pin: new Secret('000001') });
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId, pin: new Secret('385172') }))).toBe('pin_locked');
  });
});

describe('void and refund', () => {
  it('voids a same-day consume once, and refunds in parts never beyond what was paid', async () => {
    const card = await soldCard(named, 300_00n);
    const c1 = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, merchantId });
    if (!c1.ok) throw new Error(c1.code);
    const v = await cards.voidConsume({ cardId: card.id, idempotencyKey: key(), transactionId: c1.value.id });
    expect(code(v)).toBe('ok');
    expect(code(await cards.voidConsume({ cardId: card.id, idempotencyKey: key(), transactionId: c1.value.id }))).toBe('not_voidable');
    expect(await bal(card.id)).toEqual([300_00n, 0n]);
    const c2 = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 200_00n, merchantId });
    if (!c2.ok) throw new Error(c2.code);
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: c2.value.id, amountMinor: 150_00n }))).toBe('ok');
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: c2.value.id, amountMinor: 50_01n }))).toBe('refund_exceeds_remaining');
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: c2.value.id, amountMinor: 50_00n }))).toBe('ok');
    expect(await bal(card.id)).toEqual([300_00n, 0n]);
    clock.advance(24 * 3600_000);
    const c3 = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId });
    clock.advance(24 * 3600_000);
    if (!c3.ok) throw new Error(c3.code);
    expect(code(await cards.voidConsume({ cardId: card.id, idempotencyKey: key(), transactionId: c3.value.id }))).toBe('not_voidable');
  });

  it('does not void a consume back over the balance limit (the card was recharged up to it since)', async () => {
    const card = await soldCard(named, 1000_00n);
    const c = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId });
    if (!c.ok) throw new Error(c.code);
    // Back up to exactly the named card's limit of 5,000 CNY.
    expect(code(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 4000_00n + 1n, paymentMethod: 'bank_transfer' }))).toBe('ok');
    expect(code(await cards.voidConsume({ cardId: card.id, idempotencyKey: key(), transactionId: c.value.id }))).toBe('card_balance_limit_exceeded');
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: c.value.id, amountMinor: 1n }))).toBe('card_balance_limit_exceeded');
    expect((await bal(card.id))[0]).toBe(5000_00n);
    // Once some of it is spent, the void goes through.
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 100n, merchantId }))).toBe('ok');
    expect(code(await cards.voidConsume({ cardId: card.id, idempotencyKey: key(), transactionId: c.value.id }))).toBe('ok');
  });
});

describe('loss and replacement', () => {
  it('reports a named card lost, refuses spending, and replaces it moving the balance exactly once', async () => {
    const card = await soldCard(named, 500_00n);
    await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' });
    const spent = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 50_00n, merchantId });
    if (!spent.ok) throw new Error(spent.code);
    expect(code(await cards.changeState({ cardId: card.id, event: 'report_loss', reason: 'phone call' }))).toBe('ok');
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, merchantId }))).toBe('card_not_active');
    expect(code(await cards.changeState({ cardId: card.id, event: 'confirm_loss', reason: 'at the counter with ID' }))).toBe('ok');
    const r = await cards.replace({ cardId: card.id, idempotencyKey: 'replace-1', paymentMethod: 'cash', reason: 'lost' });
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    const again = await cards.replace({ cardId: card.id, idempotencyKey: 'replace-1', paymentMethod: 'cash', reason: 'lost' });
    expect(again.ok && again.value.newCard.id).toBe(r.value.newCard.id);
    expect(r.value.oldCard.status).toBe('replaced');
    expect(r.value.newCard.status).toBe('active');
    expect(await bal(r.value.newCard.id)).toEqual([550_00n, 10_00n]);
    expect(await bal(card.id)).toEqual([0n, 0n]);
    expect(code(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 1n, paymentMethod: 'bank_transfer' }))).toBe('card_terminated');
    // A refund of a purchase made with the old card goes to its replacement.
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: spent.value.id, amountMinor: 20_00n }))).toBe('ok');
    expect(await bal(r.value.newCard.id)).toEqual([570_00n, 10_00n]);
    const anonCard = await soldCard(anon, 10_00n);
    expect(code(await cards.changeState({ cardId: anonCard.id, event: 'report_loss', reason: 'x' }))).toBe('anonymous_card_not_reportable');
  });

  it('reports outstanding balances, escrow by issuer class, dormant cards, and expiry with breakage exposure', async () => {
    const out = await cards.outstandingReport();
    const row = out.find((r) => r.productId === named.id)!;
    const live = await cards.listCards({ productId: named.id, limit: 500 });
    let principal = 0n;
    let bonus = 0n;
    for (const c of live) {
      const [p, b] = await bal(c.id);
      principal += p;
      bonus += b;
    }
    expect([row.principalMinor, row.bonusMinor, row.outstandingMinor]).toEqual([principal, bonus, principal + row.purseMinor]);
    expect(row.cards).toBe(live.filter((c) => c.status !== 'in_stock').length);
    // Move into the next quarter: the escrow for Q4 2026 is 30% (class B) of the balance at its end.
    clock.set(Date.UTC(2027, 0, 5, 2, 0, 0));
    const esc = await cards.escrowReport({ quarter: '2026Q4' });
    if (!esc.ok) throw new Error(esc.code);
    const e = esc.value.rows.find((r) => r.productId === named.id)!;
    expect(e.outstandingMinor).toBe(row.outstandingMinor);
    expect(e.requiredEscrowMinor).toBe((row.outstandingMinor * 3000n + 9999n) / 10_000n);
    expect(code(await cards.escrowReport({ quarter: '2027Q1' }))).toBe('invalid_request');
    const dormant = await cards.dormantReport(30);
    expect(dormant.ok && dormant.value.find((r) => r.productId === named.id)!.dormantCards).toBeGreaterThan(0);
    // Anonymous cards expire after 36 months; their value stays theirs and shows as breakage exposure.
    const anonCard = await soldCard(anon, 77_00n);
    clock.set(Date.UTC(2030, 1, 1, 2, 0, 0));
    expect(await cards.expireCards()).toBeGreaterThanOrEqual(1);
    expect(code(await cards.consume({ cardId: anonCard.id, idempotencyKey: key(), amountMinor: 1n, merchantId }))).toBe('card_expired');
    const br = await cards.breakageReport();
    expect(br.find((r) => r.productId === anon.id)!.principalMinor).toBeGreaterThanOrEqual(77_00n);
    const re = await cards.changeState({ cardId: anonCard.id, event: 'reactivate', reason: 'holder asked' });
    expect(re.ok && re.value.status).toBe('active');
    expect(re.ok && re.value.validUntil!.getTime()).toBeGreaterThan(clock.nowMs());
    expect(code(await cards.consume({ cardId: anonCard.id, idempotencyKey: key(), amountMinor: 1n, merchantId }))).toBe('ok');
  });

  it('redeems a named card after the waiting period: principal paid to the holder, bonus cancelled, card closed', async () => {
    clock.set(Date.UTC(2030, 5, 1, 2, 0, 0));
    const fresh = await soldCard(named, 300_00n);
    await cards.recharge({ cardId: fresh.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' });
    expect(code(await cards.redeem({ cardId: fresh.id, idempotencyKey: key(), method: 'bank_account', holderNameMatches: true, reason: 'x' }))).toBe('redeem_too_early');
    clock.advance(95 * 86_400_000);
    expect(code(await cards.redeem({ cardId: fresh.id, idempotencyKey: key(), method: 'cash', holderNameMatches: true, reason: 'x' }))).toBe('cash_refund_limit_exceeded');
    expect(code(await cards.redeem({ cardId: fresh.id, idempotencyKey: key(), method: 'bank_account', holderNameMatches: false, reason: 'x' }))).toBe('refund_account_name_mismatch');
    const r = await cards.redeem({ cardId: fresh.id, idempotencyKey: 'redeem-1', method: 'bank_account', holderNameMatches: true, reason: 'holder asked' });
    expect(r.ok && [r.value.principalAmount, r.value.bonusAmount]).toEqual([400_00n, 10_00n]);
    expect(await bal(fresh.id)).toEqual([0n, 0n]);
    const after = await cards.getCard(fresh.id);
    expect(after.ok && after.value.status).toBe('closed');
    expect(code(await cards.recharge({ cardId: fresh.id, idempotencyKey: key(), amountMinor: 1n, paymentMethod: 'bank_transfer' }))).toBe('card_terminated');
    const anonCard = await soldCard(anon, 10_00n);
    clock.advance(95 * 86_400_000);
    expect(code(await cards.redeem({ cardId: anonCard.id, idempotencyKey: key(), method: 'cash', holderNameMatches: true, reason: 'x' }))).toBe('card_not_redeemable');
  });

  it('refuses a named sale to a holder without verified real-name data', async () => {
    const h = await parties.createCustomer({ kind: 'individual', legalName: '未实名', idType: 'resident_id', idNumber: sampleResidentId(99), realNameLevel: 1 });
    if (!h.ok) throw new Error(h.code);
    const b = await cards.issueBatch({ productId: named.id, count: 1 });
    if (!b.ok) throw new Error(b.code);
    expect(code(await cards.sell({ cardId: b.value.cards[0]!.id, idempotencyKey: key(), amountMinor: 1_00n, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, holderCustomerId: h.value.id }))).toBe('holder_not_verified');
  });

  it('asks the risk hook before authorizing a consume', async () => {
    const guarded = new Cards({
      pool: f.db.pool, lockPool, clock, nextId: f.nextId, ledger: f.ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai',
      authorize: async (e) => (e.amountMinor > 100_00n ? 'reject' : 'accept'),
    });
    const card = await soldCard(anon, 500_00n);
    expect(code(await guarded.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 200_00n, merchantId }))).toBe('risk_rejected');
    expect(code(await guarded.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 50_00n, merchantId }))).toBe('ok');
    expect(await bal(card.id)).toEqual([450_00n, 0n]);
  });

  it('forfeits promotional bonus at its own expiry to breakage income, once, and only what was not spent', async () => {
    clock.set(Date.UTC(2031, 0, 1, 2, 0, 0));
    const pp = await cards.createProduct({
      code: 'PROMO', name: '充值送', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '8890', numberLength: 16, rechargeable: true, bonusSpendOrder: 'bonus_first',
      bonusRules: [{ minRechargeMinor: 100_00n, bonusMinor: 20_00n, validDays: 30 }, { minRechargeMinor: 300_00n, bonusMinor: 50_00n }],
    });
    if (!pp.ok) throw new Error(pp.code);
    await cards.addAcceptingMerchant({ productId: pp.value.product.id, merchantId });
    const card = await soldCard(pp.value.product, 1_00n);
    const first = await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' });
    expect(first.ok && first.value.bonusExpiresAt?.toISOString()).toBe(new Date(Date.UTC(2031, 0, 31, 2, 0, 0)).toISOString());
    await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 300_00n, paymentMethod: 'bank_transfer' });
    // Bonus first: 30 of bonus spent, from the grant that expires first (all 20 of it), then 10 of the lasting one.
    const spent = await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 30_00n, merchantId });
    expect(spent.ok && spent.value.bonusAmount).toBe(30_00n);
    clock.advance(5 * 86_400_000);
    await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' });
    expect((await bal(card.id))[1]).toBe(60_00n);
    // Day 31: the first grant expired, but nothing of it is left.
    clock.set(Date.UTC(2031, 1, 1, 3, 0, 0));
    expect(await cards.expireBonuses()).toBe(1);
    expect((await bal(card.id))[1]).toBe(60_00n);
    // Day 36: the later grant expires untouched (the consume came before it): all 20 are forfeited.
    clock.set(Date.UTC(2031, 1, 6, 3, 0, 0));
    expect(await cards.expireBonuses()).toBe(1);
    expect(await bal(card.id)).toEqual([501_00n, 40_00n]);
    expect(await cards.expireBonuses()).toBe(0);
    const row = (await cards.breakageReport()).find((x) => x.productCode === 'PROMO');
    expect(row?.recognisedMinor).toBe(20_00n);
    const txs = await cards.listTransactions({ cardId: card.id, limit: 50 });
    expect(txs.filter((t) => t.kind === 'breakage').map((t) => t.amount)).toEqual([20_00n]);
  });

  it('keeps every ledger invariant', async () => {
    expect((await f.ledger.verify()).violations).toEqual([]);
  });
});
