// Proves offline e-cash end to end with a simulated chip: load to purse, offline debits applied exactly once per card and ATC, a torn (flash-card) debit completed once without a second charge on retry, forged MACs refused, counter gaps reported, and purses never overdrawn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { createPool, type Pool } from '../../kernel/db.js';
import { MasterKey } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { Parties, sampleUscc } from '../parties/index.js';
import { CardPurse, Cards, tornRetryDecision, type Card } from './index.js';

const clock = new ManualClock(Date.UTC(2026, 10, 22, 3, 0, 0));
let f: LedgerFixture;
let lockPool: Pool;
let cards: Cards;
let merchantId: bigint;
let productId: bigint;
let n = 0;

async function soldCard(amount: bigint): Promise<Card> {
  const b = await cards.issueBatch({ productId, count: 1 });
  if (!b.ok) throw new Error(b.code);
  const s = await cards.sell({ cardId: b.value.cards[0]!.id, idempotencyKey: `sell-${++n}`, amountMinor: amount, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true });
  if (!s.ok) throw new Error(s.code);
  return b.value.cards[0]!;
}

async function purseBalance(card: Card): Promise<bigint> {
  const b = await cards.balance(card.id);
  if (!b.ok) throw new Error(b.code);
  return b.value.purseMinor;
}

beforeAll(async () => {
  f = await ledgerFixture({ clock });
  lockPool = createPool(f.db.url, { max: 4 });
  const masterKey = MasterKey.generate();
  const parties = new Parties({ pool: f.db.pool, clock, nextId: f.nextId, ledger: f.ledger, masterKey });
  cards = new Cards({ pool: f.db.pool, lockPool, clock, nextId: f.nextId, ledger: f.ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' });
  const c = await parties.createCustomer({ kind: 'organization', legalName: '地铁商店', idType: 'uscc', idNumber: sampleUscc(77), realNameLevel: 2 });
  if (!c.ok) throw new Error(c.code);
  const m = await parties.createMerchant({ customerId: c.value.id, displayName: 'metro', mcc: '4111', settlementCycle: 'T+1' });
  if (!m.ok) throw new Error(m.code);
  await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 't' });
  merchantId = m.value.id;
  const p = await cards.createProduct({ code: 'ECASH', name: '电子现金卡', issuerKind: 'platform', purpose: 'multi', named: false, binPrefix: '6233', numberLength: 16, rechargeable: true, validityMonths: 36 });
  if (!p.ok) throw new Error(p.code);
  productId = p.value.product.id;
  await cards.addAcceptingMerchant({ productId, merchantId });
});
afterAll(async () => {
  await lockPool?.end();
  await f.close();
});

describe('offline e-cash', () => {
  it('loads the purse, applies offline debits once, and completes a torn debit without charging twice', async () => {
    const card = await soldCard(500_00n);
    expect((await cards.purseLoad({ cardId: card.id, idempotencyKey: 'load-1', amountMinor: 200_00n })).ok).toBe(true);
    expect((await cards.purseLoad({ cardId: card.id, idempotencyKey: 'load-2', amountMinor: 900_00n })).ok ? 'ok' : 'refused').toBe('refused');
    const chip = new CardPurse({ cardId: card.id.toString(), cardKey: cards.purseKey(card.id), balanceLimitMinor: 1000_00n, singleTxLimitMinor: 1000_00n });
    chip.load(200_00n);
    const at = (min: number) => new Date(Date.UTC(2026, 10, 22, 4, min));
    const d1 = chip.debit({ amountMinor: 3_00n, terminalId: 'GATE-1', merchantId: merchantId.toString(), occurredAt: at(1) });
    const d2 = chip.debit({ amountMinor: 4_00n, terminalId: 'GATE-1', merchantId: merchantId.toString(), occurredAt: at(2) });
    if (!d1.ok || !d2.ok) throw new Error('chip refused');
    // Flash card: the card debits and logs, the terminal sees a failure and retries with the same card.
    const atcBefore = chip.atc;
    expect(chip.tornDebit({ amountMinor: 5_00n, terminalId: 'GATE-2', merchantId: merchantId.toString(), occurredAt: at(3) }).ok).toBe(true);
    const decision = tornRetryDecision({ cardId: card.id.toString(), atcBeforeAttempt: atcBefore, atcNow: chip.atc, proof: chip.transactionProof(atcBefore + 1), intended: { amountMinor: 5_00n, terminalId: 'GATE-2', merchantId: merchantId.toString() } });
    expect(decision.kind).toBe('already_debited');
    if (decision.kind !== 'already_debited') return;
    expect(chip.balanceMinor).toBe(188_00n);
    const up = await cards.uploadOffline({ merchantId, terminalId: 'GATE-1', records: [d1.value, d2.value, decision.record] });
    if (!up.ok) throw new Error(up.code);
    expect(up.value.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(up.value.appliedMinor).toBe(12_00n);
    expect(await purseBalance(card)).toBe(188_00n);
    // Uploading the same batch again (a terminal retry) applies nothing.
    const again = await cards.uploadOffline({ merchantId, terminalId: 'GATE-1', records: [d1.value, decision.record] });
    expect(again.ok && again.value.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
    expect(await purseBalance(card)).toBe(188_00n);
  });

  it('refuses forged MACs and records for another merchant, and reports counter gaps', async () => {
    const card = await soldCard(300_00n);
    await cards.purseLoad({ cardId: card.id, idempotencyKey: `load-${++n}`, amountMinor: 100_00n });
    const chip = new CardPurse({ cardId: card.id.toString(), cardKey: cards.purseKey(card.id), balanceLimitMinor: 1000_00n, singleTxLimitMinor: 1000_00n, balanceMinor: 100_00n });
    const recs = [1, 2, 3, 4].map((i) => chip.debit({ amountMinor: 1_00n, terminalId: 'T', merchantId: merchantId.toString(), occurredAt: new Date(Date.UTC(2026, 10, 22, 5, i)) }));
    const [r1, , r3, r4] = recs.map((r) => (r.ok ? r.value : undefined));
    const forged = { ...r1!, amountMinor: 99_00n, balanceAfterMinor: r1!.balanceBeforeMinor - 99_00n };
    const other = new CardPurse({ cardId: card.id.toString(), cardKey: cards.purseKey(card.id), balanceLimitMinor: 1000_00n, singleTxLimitMinor: 1000_00n, balanceMinor: 100_00n, atc: 10 });
    const foreign = other.debit({ amountMinor: 1_00n, terminalId: 'T', merchantId: '12345', occurredAt: new Date(Date.UTC(2026, 10, 22, 6)) });
    const up = await cards.uploadOffline({ merchantId, terminalId: 'T', records: [forged, r3!, r4!, foreign.ok ? foreign.value : r1!] });
    if (!up.ok) throw new Error(up.code);
    const byAtc = Object.fromEntries(up.value.results.map((r) => [r.atc, r.status === 'rejected' ? r.code : r.status]));
    expect(byAtc).toEqual({ 1: 'offline_mac_invalid', 3: 'applied', 4: 'applied', 11: 'offline_record_wrong_merchant' });
    // ATCs 1-2 are missing (1 was forged), and 5-10 lie between this card's last debit and the
    // foreign record's counter 11.
    expect(up.value.gaps).toEqual([{ cardId: card.id.toString(), fromAtc: 1, toAtc: 2 }, { cardId: card.id.toString(), fromAtc: 5, toAtc: 10 }]);
    // The missing records arrive later from another terminal and fill the gap.
    const late = await cards.uploadOffline({ merchantId, terminalId: 'T2', records: [r1!, recs[1]!.ok ? recs[1]!.value : r1!] });
    expect(late.ok && late.value.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(await purseBalance(card)).toBe(96_00n);
  });

  it('never lets offline uploads take more than was loaded onto the purse', async () => {
    const card = await soldCard(300_00n);
    await cards.purseLoad({ cardId: card.id, idempotencyKey: `load-${++n}`, amountMinor: 10_00n });
    // A chip that claims more value than the issuer ever loaded (a tampered card with a leaked key).
    const fake = new CardPurse({ cardId: card.id.toString(), cardKey: cards.purseKey(card.id), balanceLimitMinor: 1000_00n, singleTxLimitMinor: 1000_00n, balanceMinor: 500_00n });
    const d = fake.debit({ amountMinor: 50_00n, terminalId: 'T', merchantId: merchantId.toString(), occurredAt: new Date(Date.UTC(2026, 10, 22, 7)) });
    if (!d.ok) throw new Error('chip refused');
    const up = await cards.uploadOffline({ merchantId, terminalId: 'T', records: [d.value] });
    expect(up.ok && up.value.results[0]!.code).toBe('purse_overdrawn');
    expect(await purseBalance(card)).toBe(10_00n);
    expect((await f.ledger.verify()).violations).toEqual([]);
  });
});
