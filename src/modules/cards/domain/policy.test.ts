// Proves every card policy rule accepts exactly at its boundary and refuses just beyond it with a stable code and its citation, and that product overrides can only tighten unless loosening is explicit and recorded.
import { describe, expect, it } from 'vitest';
import {
  addCalendarMonths,
  checkBalanceLimit,
  checkLossReport,
  checkPurchase,
  checkRecharge,
  checkRedeem,
  checkResidualRefund,
  checkValidity,
  DEFAULT_CARD_POLICY as P,
  mergePolicyOverrides,
  selectPolicy,
  type CardPolicy,
  type PaymentMethod,
} from './policy.js';
import type { Result } from '../../../kernel/errors.js';

const Y = (yuan: number) => BigInt(yuan) * 100n;
const code = (r: Result<unknown>) => (r.ok ? 'ok' : r.code);
function expectRefusal(r: Result<unknown>, c: string, policy: CardPolicy = P): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.code).toBe(c);
  expect(r.details?.['policy_version']).toBe(policy.version);
  expect(typeof r.details?.['citation']).toBe('string');
  expect(String(r.details?.['citation']).length).toBeGreaterThan(20);
  // Details go out as JSON, so they must never hold a bigint.
  expect(() => JSON.stringify(r.details)).not.toThrow();
}

describe('DEFAULT_CARD_POLICY', () => {
  it('is the 2012 baseline, cites both measures and forbids withdrawal, interest and overdraft', () => {
    expect(P.version).toBe('cn-2012-v1');
    expect(P.balanceLimit.citation).toContain('中国人民银行公告〔2012〕第12号');
    expect(P.balanceLimit.citation).toContain('商务部令2012年第9号');
    expect(P.cashWithdrawal.allowed).toBe(false);
    expect(P.interest.allowed).toBe(false);
    expect(P.overdraft.allowed).toBe(false);
    expect(P.expiredResidual.reactivateOrReplace).toBe(true);
    expect(Object.isFrozen(P.balanceLimit)).toBe(true);
  });
});

describe('checkBalanceLimit', () => {
  it('allows exactly 5,000 CNY on a named card and refuses one fen more', () => {
    expect(code(checkBalanceLimit(P, { named: true, balanceAfterMinor: Y(5000) }))).toBe('ok');
    const r = checkBalanceLimit(P, { named: true, balanceAfterMinor: Y(5000) + 1n });
    expectRefusal(r, 'card_balance_limit_exceeded');
    expect(!r.ok && r.details).toMatchObject({ limit: 500000, balance_after: 500001 });
  });
  it('allows exactly 1,000 CNY on an anonymous card and refuses one fen more', () => {
    expect(code(checkBalanceLimit(P, { named: false, balanceAfterMinor: Y(1000) }))).toBe('ok');
    expectRefusal(checkBalanceLimit(P, { named: false, balanceAfterMinor: Y(1000) + 1n }), 'card_balance_limit_exceeded');
  });
  it('treats a negative balance as a programmer error', () => {
    expect(() => checkBalanceLimit(P, { named: true, balanceAfterMinor: -1n })).toThrow();
  });
});

describe('checkPurchase', () => {
  const buy = (o: Partial<Parameters<typeof checkPurchase>[1]>) =>
    checkPurchase(P, { buyerKind: 'individual', named: false, totalMinor: Y(100), paymentMethod: 'cash', buyerRealName: false, ...o });

  it('refuses credit cards whatever the amount, before anything else', () => {
    expectRefusal(buy({ paymentMethod: 'credit_card', totalMinor: 1n }), 'credit_card_not_allowed');
    expectRefusal(buy({ paymentMethod: 'credit_card', named: true }), 'credit_card_not_allowed');
  });
  it('always needs real-name data for named cards', () => {
    expectRefusal(buy({ named: true, totalMinor: 1n }), 'real_name_required');
    expect(code(buy({ named: true, totalMinor: 1n, buyerRealName: true }))).toBe('ok');
  });
  it('needs real-name data for anonymous purchases from exactly 10,000 CNY', () => {
    expect(code(buy({ totalMinor: Y(10_000) - 1n, paymentMethod: 'bank_transfer' }))).toBe('ok');
    expectRefusal(buy({ totalMinor: Y(10_000), paymentMethod: 'bank_transfer' }), 'real_name_required');
    expect(code(buy({ totalMinor: Y(10_000), paymentMethod: 'bank_transfer', buyerRealName: true }))).toBe('ok');
  });
  it('makes organizations pay by transfer from exactly 5,000 CNY', () => {
    const org = { buyerKind: 'organization' as const, buyerRealName: true };
    expect(code(buy({ ...org, totalMinor: Y(5000) - 1n, paymentMethod: 'cash' }))).toBe('ok');
    const r = buy({ ...org, totalMinor: Y(5000), paymentMethod: 'cash' });
    expectRefusal(r, 'bank_transfer_required');
    expect(!r.ok && r.details).toMatchObject({ rule: 'purchaseTransfer', threshold: 500000, amount: 500000, payment_method: 'cash' });
    expect(code(buy({ ...org, totalMinor: Y(5000), paymentMethod: 'bank_transfer' }))).toBe('ok');
  });
  it('makes individuals pay by transfer from exactly 50,000 CNY', () => {
    const ind = { buyerRealName: true };
    expect(code(buy({ ...ind, totalMinor: Y(50_000) - 1n, paymentMethod: 'cash' }))).toBe('ok');
    expectRefusal(buy({ ...ind, totalMinor: Y(50_000), paymentMethod: 'cash' }), 'bank_transfer_required');
  });
  it('counts bank transfer and debit card as transfers, but not cash or third-party channels', () => {
    const big = { buyerRealName: true, totalMinor: Y(50_000) };
    const results = (['bank_transfer', 'debit_card', 'channel', 'cash'] as PaymentMethod[]).map((m) => code(buy({ ...big, paymentMethod: m })));
    expect(results).toEqual(['ok', 'ok', 'bank_transfer_required', 'bank_transfer_required']);
  });
});

describe('checkRecharge', () => {
  it('refuses credit cards and needs a transfer from exactly 5,000 CNY', () => {
    expectRefusal(checkRecharge(P, { amountMinor: 1n, paymentMethod: 'credit_card' }), 'credit_card_not_allowed');
    expect(code(checkRecharge(P, { amountMinor: Y(5000) - 1n, paymentMethod: 'cash' }))).toBe('ok');
    expectRefusal(checkRecharge(P, { amountMinor: Y(5000), paymentMethod: 'cash' }), 'bank_transfer_required');
    expect(code(checkRecharge(P, { amountMinor: Y(5000), paymentMethod: 'bank_transfer' }))).toBe('ok');
  });
});

describe('checkValidity', () => {
  // 2025-01-15 10:00 in Shanghai.
  const issuedAt = new Date('2025-01-15T02:00:00Z');
  it('lets named cards have no expiry and refuses one by default', () => {
    expect(code(checkValidity(P, { named: true, validUntil: null, issuedAt }))).toBe('ok');
    expectRefusal(checkValidity(P, { named: true, validUntil: new Date('2035-01-01T00:00:00Z'), issuedAt }), 'named_card_expiry_not_allowed');
  });
  it('needs anonymous cards valid to the same business date three years on, or without expiry', () => {
    expect(code(checkValidity(P, { named: false, validUntil: null, issuedAt }))).toBe('ok');
    // 2028-01-15 00:00 Shanghai is 2028-01-14T16:00Z: on the boundary date.
    expect(code(checkValidity(P, { named: false, validUntil: new Date('2028-01-14T16:00:00Z'), issuedAt }))).toBe('ok');
    const r = checkValidity(P, { named: false, validUntil: new Date('2028-01-14T15:59:59Z'), issuedAt });
    expectRefusal(r, 'card_validity_too_short');
    expect(!r.ok && r.details?.['earliest_valid_until']).toBe('2028-01-15');
  });
});

describe('checkRedeem', () => {
  const purchasedAt = new Date('2025-01-15T02:00:00Z');
  it('refuses anonymous cards', () => {
    expectRefusal(checkRedeem(P, { named: false, purchasedAt, now: new Date('2030-01-01T00:00:00Z') }), 'card_not_redeemable');
  });
  it('lets named cards redeem from the business date three months after purchase', () => {
    const r = checkRedeem(P, { named: true, purchasedAt, now: new Date('2025-04-14T15:59:59Z') });
    expectRefusal(r, 'redeem_too_early');
    expect(!r.ok && r.details?.['redeemable_from']).toBe('2025-04-15');
    expect(code(checkRedeem(P, { named: true, purchasedAt, now: new Date('2025-04-14T16:00:00Z') }))).toBe('ok');
  });
  it('counts months in calendar terms, ending short months on their last day', () => {
    expect(addCalendarMonths('2024-11-30', 3)).toBe('2025-02-28');
    expect(addCalendarMonths('2023-11-30', 3)).toBe('2024-02-29');
    expect(addCalendarMonths('2025-01-31', 1)).toBe('2025-02-28');
    expect(addCalendarMonths('2024-02-29', 36)).toBe('2027-02-28');
    expect(addCalendarMonths('2025-10-15', 3)).toBe('2026-01-15');
  });
});

describe('checkResidualRefund', () => {
  it('pays cash up to exactly 100 CNY and refuses one fen more', () => {
    expect(code(checkResidualRefund(P, { amountMinor: Y(100), method: 'cash', holderNameMatches: false }))).toBe('ok');
    expectRefusal(checkResidualRefund(P, { amountMinor: Y(100) + 1n, method: 'cash', holderNameMatches: true }), 'cash_refund_limit_exceeded');
  });
  it('pays any amount to a bank account only in the holder\'s name', () => {
    expect(code(checkResidualRefund(P, { amountMinor: Y(5000), method: 'bank_account', holderNameMatches: true }))).toBe('ok');
    expectRefusal(checkResidualRefund(P, { amountMinor: 1n, method: 'bank_account', holderNameMatches: false }), 'refund_account_name_mismatch');
  });
});

describe('checkLossReport', () => {
  it('lets named cards be reported lost and refuses anonymous ones', () => {
    expect(code(checkLossReport(P, { named: true }))).toBe('ok');
    expectRefusal(checkLossReport(P, { named: false }), 'anonymous_card_not_reportable');
  });
});

describe('mergePolicyOverrides', () => {
  const v2 = { version: 'acme-gift-v1', effectiveFrom: new Date('2026-01-01T00:00:00Z') };

  it('tightens a product and leaves the base untouched', () => {
    const r = mergePolicyOverrides(P, { ...v2, balanceLimit: { anonymousMaxMinor: Y(500) }, residualRefund: { cashMaxMinor: Y(50) }, validity: { anonymousMinMonths: 60 }, transferMethods: { methods: ['bank_transfer'] } });
    if (!r.ok) throw new Error(r.message);
    const p = r.value;
    expect(p).toMatchObject({ version: 'acme-gift-v1', basedOn: 'cn-2012-v1', loosened: [], looserReason: null });
    expect(p.balanceLimit).toEqual({ ...P.balanceLimit, anonymousMaxMinor: Y(500) });
    expectRefusal(checkBalanceLimit(p, { named: false, balanceAfterMinor: Y(500) + 1n }), 'card_balance_limit_exceeded', p);
    expect(code(checkBalanceLimit(P, { named: false, balanceAfterMinor: Y(500) + 1n }))).toBe('ok');
    expect(code(checkPurchase(p, { buyerKind: 'individual', named: false, totalMinor: Y(50_000), paymentMethod: 'debit_card', buyerRealName: true }))).toBe('bank_transfer_required');
  });

  it('refuses every looser value without allowLooser, naming the field', () => {
    const cases: Parameters<typeof mergePolicyOverrides>[1][] = [
      { ...v2, balanceLimit: { namedMaxMinor: Y(5000) + 1n } },
      { ...v2, realName: { anonymousPurchaseMinor: Y(20_000) } },
      { ...v2, purchaseTransfer: { individualMinor: Y(60_000) } },
      { ...v2, rechargeTransfer: { singleRechargeMinor: Y(6000) } },
      { ...v2, transferMethods: { methods: ['bank_transfer', 'debit_card', 'channel'] } },
      { ...v2, creditCardFunding: { allowed: true } },
      { ...v2, validity: { namedExpiryAllowed: true } },
      { ...v2, validity: { anonymousMinMonths: 35 } },
      { ...v2, redeem: { namedAfterMonths: 2 } },
      { ...v2, redeem: { namedAfterMonths: 4 } },
      { ...v2, redeem: { anonymousAllowed: true } },
      { ...v2, residualRefund: { cashMaxMinor: Y(100) + 1n } },
      { ...v2, cashWithdrawal: { allowed: true } },
      { ...v2, interest: { allowed: true } },
      { ...v2, overdraft: { allowed: true } },
      { ...v2, expiredResidual: { reactivateOrReplace: false } },
    ];
    for (const o of cases) {
      const r = mergePolicyOverrides(P, o);
      expect(code(r)).toBe('policy_override_looser');
      expect(!r.ok && typeof r.details?.['field']).toBe('string');
      expect(() => JSON.stringify(!r.ok && r.details)).not.toThrow();
    }
  });

  it('loosens with allowLooser and a reason, and records what was loosened', () => {
    expect(code(mergePolicyOverrides(P, { ...v2, allowLooser: true, balanceLimit: { namedMaxMinor: Y(10_000) } }))).toBe('invalid_policy_override');
    const r = mergePolicyOverrides(P, {
      ...v2,
      allowLooser: true,
      looserReason: 'regulator notice raising the named-card limit',
      balanceLimit: { namedMaxMinor: Y(10_000), citation: 'hypothetical notice, for the test' },
      lossReport: { provisionalHours: 48 },
    });
    if (!r.ok) throw new Error(r.message);
    expect(r.value.loosened).toEqual(['balanceLimit.namedMaxMinor']);
    expect(r.value.looserReason).toBe('regulator notice raising the named-card limit');
    expect(r.value.balanceLimit.citation).toBe('hypothetical notice, for the test');
    expect(r.value.lossReport.provisionalHours).toBe(48);
  });

  it('refuses malformed overrides', () => {
    const bad: unknown[] = [
      { ...v2, version: 'cn-2012-v1' },
      { ...v2, version: ' ' },
      { ...v2, effectiveFrom: new Date('2010-01-01T00:00:00Z') },
      { ...v2, effectiveFrom: new Date('nope') },
      { ...v2, balanceLimit: { namedMaxMinor: 100 } },
      { ...v2, balanceLimit: { namedMaxMinor: -1n } },
      { ...v2, balanceLimit: { bogus: 1n } },
      { ...v2, bogusRule: {} },
      { ...v2, validity: { anonymousMinMonths: 36.5 } },
      { ...v2, transferMethods: { methods: ['bank_transfer', 'cash'] } },
      { ...v2, allowLooser: true, looserReason: 'x', transferMethods: { methods: ['credit_card'] } },
      { ...v2, lossReport: { citation: '' } },
    ];
    for (const o of bad) expect(code(mergePolicyOverrides(P, o as Parameters<typeof mergePolicyOverrides>[1]))).toBe('invalid_policy_override');
  });
});

describe('selectPolicy', () => {
  it('picks the version in force at the time a decision was made', () => {
    const r = mergePolicyOverrides(P, { version: 'cn-2026-v2', effectiveFrom: new Date('2026-01-01T00:00:00Z'), balanceLimit: { anonymousMaxMinor: Y(800) } });
    if (!r.ok) throw new Error(r.message);
    const versions = [r.value, P];
    expect(selectPolicy(versions, new Date('2025-12-31T23:59:59Z'))?.version).toBe('cn-2012-v1');
    expect(selectPolicy(versions, new Date('2026-01-01T00:00:00Z'))?.version).toBe('cn-2026-v2');
    expect(selectPolicy(versions, new Date('2012-01-01T00:00:00Z'))).toBeUndefined();
    // The old version still decides its own history the way it did.
    expect(code(checkBalanceLimit(P, { named: false, balanceAfterMinor: Y(900) }))).toBe('ok');
  });
});
