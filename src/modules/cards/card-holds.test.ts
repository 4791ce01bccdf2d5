// Proves card holds for combined payments against real PostgreSQL and the real ledger: held money is unavailable to consumes, capture posts exactly once, release gives the money back, the ledger's timeout ends a hold, a captured hold is refundable, holds get the consume checks, and the ledger's invariants hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { Secret } from '../../kernel/secret.js';
import { cardsFixture, type CardsFixture } from '../../../test/support/cards.js';
import { postedBalance, type Ledger } from '../ledger/index.js';
import type { Cards, CardProduct, CardTransaction } from './index.js';

const clock = new ManualClock(Date.UTC(2026, 10, 22, 2, 0, 0));
const faults = { before: 0, after: 0 };
let fx: CardsFixture;
let cards: Cards;
let merchantId: bigint;
let strangerId: bigint;
let anon: CardProduct;
/** Named, with a bonus of 10 on recharges of 100 or more, spent after the principal. */
let named: CardProduct;
let n = 0;
const key = (): string => `h${++n}`;
const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');
const TIMEOUT_S = 600;

function value<T>(r: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
}

async function bal(cardId: bigint): Promise<{ principal: bigint; bonus: bigint; held: bigint }> {
  const b = value(await cards.balance(cardId));
  return { principal: b.principalMinor, bonus: b.bonusMinor, held: b.heldMinor };
}

async function payable(m: bigint): Promise<bigint> {
  const p = value(await fx.parties.merchantPayee({ merchantId: m }));
  return postedBalance(value(await fx.f.ledger.getAccount(p.settlementLedgerAccountId)));
}

const hold = (cardId: bigint, amountMinor: bigint, more: Partial<Parameters<Cards['hold']>[0]> = {}) =>
  cards.hold({ cardId, idempotencyKey: key(), amountMinor, merchantId, timeoutSeconds: TIMEOUT_S, ...more });

beforeAll(async () => {
  // The real ledger behind a connection that can break just before or just after it applies a request.
  fx = await cardsFixture({
    clock,
    wrapLedger: (real) => {
      const l = Object.create(real) as Ledger;
      l.createTransfers = async (reqs) => {
        if (faults.before > 0) {
          faults.before--;
          throw Object.assign(new Error('connection reset (simulated)'), { code: 'ECONNRESET' });
        }
        const r = await real.createTransfers(reqs);
        if (faults.after > 0) {
          faults.after--;
          throw Object.assign(new Error('connection reset after commit (simulated)'), { code: 'ECONNRESET' });
        }
        return r;
      };
      return l;
    },
  });
  cards = fx.cards;
  merchantId = await fx.activeMerchant();
  strangerId = await fx.activeMerchant();
  anon = await fx.product({ code: 'HOLD-ANON', binPrefix: '8891', named: false, rechargeable: false }, [merchantId]);
  named = await fx.product({ code: 'HOLD-NAMED', binPrefix: '8892', named: true, bonusRules: [{ minRechargeMinor: 100_00n, bonusMinor: 10_00n }] }, [merchantId]);
});
afterAll(async () => {
  await fx?.close();
});

describe('hold', () => {
  it('takes held money out of the available balance, so concurrent consumes cannot spend it', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 80_00n, { reference: 'P20261122-0001' }));
    expect([h.kind, h.status, h.holdState, h.principalAmount, h.bonusAmount]).toEqual(['hold', 'succeeded', 'active', 80_00n, 0n]);
    expect(h.holdExpiresAt?.getTime()).toBe(clock.nowMs() + TIMEOUT_S * 1000);
    expect(await bal(card.id)).toEqual({ principal: 20_00n, bonus: 0n, held: 80_00n });
    const results = await Promise.all(Array.from({ length: 10 }, () => cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 5_00n, merchantId })));
    expect(results.filter((r) => r.ok)).toHaveLength(4);
    expect(new Set(results.filter((r) => !r.ok).map(code))).toEqual(new Set(['insufficient_balance']));
    expect(await bal(card.id)).toEqual({ principal: 0n, bonus: 0n, held: 80_00n });
    // A second hold cannot take it either.
    expect(code(await hold(card.id, 1n))).toBe('insufficient_balance');
  });

  it('decides holds and consumes racing on one card as if one after another', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const rs = await Promise.all([
      hold(card.id, 60_00n), cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 30_00n, merchantId }), hold(card.id, 30_00n),
      cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 30_00n, merchantId }), hold(card.id, 10_00n),
    ]);
    const done = rs.filter((r): r is { ok: true; value: CardTransaction } => r.ok).map((r) => r.value);
    const held = done.filter((t) => t.kind === 'hold').reduce((s, t) => s + t.amount, 0n);
    const spent = done.filter((t) => t.kind === 'consume').reduce((s, t) => s + t.amount, 0n);
    expect(held + spent).toBeLessThanOrEqual(100_00n);
    expect(await bal(card.id)).toEqual({ principal: 100_00n - held - spent, bonus: 0n, held });
  });

  it('is idempotent by its key', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const first = value(await cards.hold({ cardId: card.id, idempotencyKey: 'hold-same', amountMinor: 10_00n, merchantId, timeoutSeconds: 60 }));
    const again = value(await cards.hold({ cardId: card.id, idempotencyKey: 'hold-same', amountMinor: 10_00n, merchantId, timeoutSeconds: 60 }));
    expect(again.id).toBe(first.id);
    expect(code(await cards.hold({ cardId: card.id, idempotencyKey: 'hold-same', amountMinor: 11_00n, merchantId, timeoutSeconds: 60 }))).toBe('idempotency_key_reused');
    expect(await bal(card.id)).toEqual({ principal: 90_00n, bonus: 0n, held: 10_00n });
  });

  it('applies the consume checks: PIN, acceptance, card state, risk, and its own input limits', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    expect(code(await fx.cards.setPin({ cardId: card.id, pin: new Secret('385172') }))).toBe('ok');
    expect(code(await hold(card.id, 1_00n))).toBe('pin_required');
    expect(code(await hold(card.id, 1_00n, { pin: new Secret('000001') }))).toBe('pin_incorrect');
    expect(code(await hold(card.id, 1_00n, { pin: new Secret('385172'), merchantId: strangerId }))).toBe('merchant_not_accepted');
    expect(code(await hold(card.id, 1_00n, { pin: new Secret('385172'), timeoutSeconds: 0 }))).toBe('invalid_request');
    expect(code(await hold(card.id, 0n, { pin: new Secret('385172') }))).toBe('invalid_amount');
    expect(code(await hold(card.id, 1_00n, { pin: new Secret('385172') }))).toBe('ok');
    expect(code(await cards.changeState({ cardId: card.id, event: 'freeze', reason: 'test' }))).toBe('ok');
    expect(code(await hold(card.id, 1_00n, { pin: new Secret('385172') }))).toBe('card_not_active');
    const guarded = fx.cardsWith({ authorize: async (e) => (e.amountMinor > 50_00n ? 'reject' : 'accept') });
    const other = await fx.soldCard(anon, 100_00n);
    expect(code(await guarded.hold({ cardId: other.id, idempotencyKey: key(), amountMinor: 60_00n, merchantId, timeoutSeconds: 60 }))).toBe('risk_rejected');
    expect(code(await guarded.hold({ cardId: other.id, idempotencyKey: key(), amountMinor: 40_00n, merchantId, timeoutSeconds: 60 }))).toBe('ok');
  });
});

describe('capture and release', () => {
  it('captures in full exactly once, principal then bonus, and refuses a second capture and a release', async () => {
    const card = await fx.soldCard(named, 100_00n);
    value(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' }));
    const h = value(await hold(card.id, 205_00n));
    expect([h.principalAmount, h.bonusAmount]).toEqual([200_00n, 5_00n]);
    expect(await bal(card.id)).toEqual({ principal: 0n, bonus: 5_00n, held: 205_00n });
    const before = await payable(merchantId);
    const cap = value(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: 'cap-1' }));
    expect([cap.kind, cap.status, cap.holdState, cap.relatedId, cap.amount, cap.principalAmount, cap.bonusAmount]).toEqual(['capture', 'succeeded', 'captured', h.id, 205_00n, 200_00n, 5_00n]);
    const retry = value(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: 'cap-1' }));
    expect(retry.id).toBe(cap.id);
    const second = await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() });
    expect(code(second)).toBe('hold_not_active');
    expect(!second.ok && second.details?.['hold_state']).toBe('captured');
    expect(code(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: key() }))).toBe('hold_captured');
    expect(await payable(merchantId)).toBe(before + 205_00n);
    expect(await bal(card.id)).toEqual({ principal: 0n, bonus: 5_00n, held: 0n });
    expect(value(await cards.getTransaction(h.id)).holdState).toBe('captured');
    const posts = await fx.f.ledger.findTransfers({ accountId: card.principalAccountId, kind: 'post_pending', limit: 50 });
    expect(posts.map((t) => t.amount)).toEqual([200_00n]);
  });

  it('releases a hold: the money is back, a capture after it is refused, and releasing again succeeds moving nothing', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 50_00n));
    const before = await payable(merchantId);
    const rel = value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: 'rel-1' }));
    expect([rel.kind, rel.status, rel.holdState, rel.amount]).toEqual(['release', 'succeeded', 'released', 50_00n]);
    expect(await bal(card.id)).toEqual({ principal: 100_00n, bonus: 0n, held: 0n });
    expect(value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: 'rel-1' })).id).toBe(rel.id);
    const again = value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: key() }));
    expect([again.holdState, again.amount]).toEqual(['released', 0n]);
    expect(again.id).not.toBe(rel.id);
    const cap = await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() });
    expect(code(cap)).toBe('hold_not_active');
    expect(!cap.ok && cap.details?.['hold_state']).toBe('released');
    expect(await payable(merchantId)).toBe(before);
    expect(value(await cards.getTransaction(h.id)).holdState).toBe('released');
    expect(code(await cards.captureHold({ holdTransactionId: rel.id, idempotencyKey: key() }))).toBe('transaction_not_found');
  });

  it('does not charge a card frozen since the hold, and still releases it', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 30_00n));
    expect(code(await cards.changeState({ cardId: card.id, event: 'freeze', reason: 'test' }))).toBe('ok');
    expect(code(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() }))).toBe('card_not_active');
    expect(value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: key() })).holdState).toBe('released');
    expect(await bal(card.id)).toEqual({ principal: 100_00n, bonus: 0n, held: 0n });
  });
});

describe('expiry', () => {
  it('ends a hold at its timeout: capture refused, release a success that moves nothing, money back after the ledger expires it', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 40_00n, { timeoutSeconds: 60 }));
    clock.advance(61_000);
    // Past the timeout the ledger will neither post nor void the hold, even before its expiry worker ran.
    const cap = await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() });
    expect(code(cap)).toBe('hold_not_active');
    expect(!cap.ok && cap.details?.['hold_state']).toBe('expired');
    expect(await fx.f.ledger.expirePendingTransfers()).toBeGreaterThanOrEqual(1);
    expect(await bal(card.id)).toEqual({ principal: 100_00n, bonus: 0n, held: 0n });
    expect(code(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() }))).toBe('hold_not_active');
    const rel = value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: key() }));
    expect([rel.holdState, rel.amount]).toEqual(['expired', 0n]);
  });

  it('records forgotten holds as expired once the ledger expired them', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 10_00n, { timeoutSeconds: 30 }));
    await cards.expireHolds();
    expect(value(await cards.getTransaction(h.id)).holdState).toBe('active');
    clock.advance(31_000);
    expect(await fx.f.ledger.expirePendingTransfers()).toBeGreaterThanOrEqual(1);
    expect(await cards.expireHolds()).toBeGreaterThanOrEqual(1);
    expect(value(await cards.getTransaction(h.id)).holdState).toBe('expired');
    expect(await cards.expireHolds()).toBe(0);
  });

  it('lets the ledger have the last word when it expired the hold after our check', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 20_00n, { timeoutSeconds: 30 }));
    const h2 = value(await hold(card.id, 20_00n, { timeoutSeconds: 30 }));
    // Our record says the holds last an hour longer than the ledger's timeout: as if the clock
    // passed the timeout between our check and the ledger applying the capture or release.
    await fx.f.db.pool.query(`UPDATE card_transactions SET hold_expires_at = hold_expires_at + interval '1 hour' WHERE id = ANY($1::bigint[])`, [[h.id, h2.id]]);
    clock.advance(31_000);
    const cap = await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() });
    expect(code(cap)).toBe('hold_not_active');
    const rel = value(await cards.releaseHold({ holdTransactionId: h2.id, idempotencyKey: key() }));
    expect([rel.status, rel.holdState]).toEqual(['succeeded', 'expired']);
    expect(value(await cards.getTransaction(h2.id)).holdState).toBe('expired');
    await fx.f.ledger.expirePendingTransfers();
    expect(await bal(card.id)).toEqual({ principal: 100_00n, bonus: 0n, held: 0n });
  });
});

describe('refund of a captured hold', () => {
  it('refunds by the capture or the hold id, in the proportion spent, never more than captured, to the replacement card', async () => {
    const card = await fx.soldCard(named, 100_00n);
    value(await cards.recharge({ cardId: card.id, idempotencyKey: key(), amountMinor: 100_00n, paymentMethod: 'bank_transfer' }));
    const h = value(await hold(card.id, 210_00n));
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: h.id, amountMinor: 1_00n }))).toBe('hold_not_captured');
    // A held balance cannot move to a replacement card.
    expect(code(await cards.changeState({ cardId: card.id, event: 'report_loss', reason: 'phone call' }))).toBe('ok');
    expect(code(await cards.changeState({ cardId: card.id, event: 'confirm_loss', reason: 'at the counter' }))).toBe('ok');
    expect(code(await cards.replace({ cardId: card.id, idempotencyKey: key(), paymentMethod: 'cash', reason: 'lost' }))).toBe('card_has_active_holds');
    // Nor can a lost card be charged: the payment releases the hold and the card is replaced.
    expect(code(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: key() }))).toBe('card_not_active');
    value(await cards.releaseHold({ holdTransactionId: h.id, idempotencyKey: key() }));
    const repl = value(await cards.replace({ cardId: card.id, idempotencyKey: key(), paymentMethod: 'cash', reason: 'lost' }));
    const fresh = repl.newCard;
    expect(await bal(fresh.id)).toEqual({ principal: 200_00n, bonus: 10_00n, held: 0n });

    const h2 = value(await hold(fresh.id, 210_00n));
    const cap = value(await cards.captureHold({ holdTransactionId: h2.id, idempotencyKey: key() }));
    const r1 = value(await cards.refund({ idempotencyKey: key(), transactionId: cap.id, amountMinor: 105_00n }));
    expect([r1.kind, r1.relatedId, r1.principalAmount, r1.bonusAmount]).toEqual(['refund', cap.id, 100_00n, 5_00n]);
    // The hold's id stands for its capture.
    const r2 = value(await cards.refund({ idempotencyKey: key(), transactionId: h2.id, amountMinor: 100_00n }));
    expect(r2.relatedId).toBe(cap.id);
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: h2.id, amountMinor: 5_01n }))).toBe('refund_exceeds_remaining');
    expect(code(await cards.refund({ idempotencyKey: key(), transactionId: cap.id, amountMinor: 5_00n }))).toBe('ok');
    expect(await bal(fresh.id)).toEqual({ principal: 200_00n, bonus: 10_00n, held: 0n });
    expect(value(await cards.getTransaction(cap.id)).refundedAmount).toBe(210_00n);
  });
});

describe('exactly once across a broken ledger connection', () => {
  it('finishes a hold whose ledger call broke before the next operation on the card', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    faults.before = 1;
    await expect(cards.hold({ cardId: card.id, idempotencyKey: 'hold-broken', amountMinor: 30_00n, merchantId, timeoutSeconds: TIMEOUT_S })).rejects.toThrow(/connection reset/);
    // The next operation on the card finishes the pending hold first, so it sees the money held.
    expect(code(await cards.consume({ cardId: card.id, idempotencyKey: key(), amountMinor: 80_00n, merchantId }))).toBe('insufficient_balance');
    const h = value(await cards.hold({ cardId: card.id, idempotencyKey: 'hold-broken', amountMinor: 30_00n, merchantId, timeoutSeconds: TIMEOUT_S }));
    expect([h.status, h.holdState]).toEqual(['succeeded', 'active']);
    expect(await bal(card.id)).toEqual({ principal: 70_00n, bonus: 0n, held: 30_00n });
  });

  it('posts a capture once when the connection broke after the ledger applied it', async () => {
    const card = await fx.soldCard(anon, 100_00n);
    const h = value(await hold(card.id, 30_00n));
    const before = await payable(merchantId);
    faults.after = 1;
    await expect(cards.captureHold({ holdTransactionId: h.id, idempotencyKey: 'cap-broken' })).rejects.toThrow(/connection reset/);
    const cap = value(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: 'cap-broken' }));
    expect([cap.status, cap.holdState]).toEqual(['succeeded', 'captured']);
    expect(value(await cards.captureHold({ holdTransactionId: h.id, idempotencyKey: 'cap-broken' })).id).toBe(cap.id);
    expect(await payable(merchantId)).toBe(before + 30_00n);
    expect(await bal(card.id)).toEqual({ principal: 70_00n, bonus: 0n, held: 0n });
  });

  it('keeps every ledger invariant', async () => {
    expect((await fx.f.ledger.verify()).violations).toEqual([]);
  });
});
