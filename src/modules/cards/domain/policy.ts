/**
 * Regulatory rules for prepaid cards as data: a versioned `CardPolicy` whose every rule carries
 * its numbers and the provision it comes from, and pure checks that refuse with stable codes and
 * the citation in `details`.
 *
 * A policy is never edited in place. A change, whether a new regulation or a product's tuning, is
 * a new version with its own `effectiveFrom`, and every decision records the version it was made
 * under, so history decided under an old version keeps meaning what it meant (`selectPolicy`).
 *
 * Thresholds use "at or above" (≥): in Chinese law "以上/以下" include the number itself (民法典
 * Art. 1259), and the single-purpose measures spell the amounts out with "(含)".
 *
 * Citations: the defaults below were written without the official texts at hand and were checked
 * only against press summaries of the two measures. Where an article number is not certain the
 * citation says so, and it must be verified against the current text before relying on it.
 */
import { businessDate, DEFAULT_BUSINESS_TIME_ZONE } from '../../../kernel/clock.js';
import { assertNever, fail, ok, type Fail, type Result } from '../../../kernel/errors.js';

export type PaymentMethod = 'cash' | 'bank_transfer' | 'debit_card' | 'credit_card' | 'channel';
export const PAYMENT_METHODS: readonly PaymentMethod[] = ['cash', 'bank_transfer', 'debit_card', 'credit_card', 'channel'];
export type BuyerKind = 'individual' | 'organization';

const PBOC = '《支付机构预付卡业务管理办法》(中国人民银行公告〔2012〕第12号)';
const MOFCOM = '《单用途商业预付卡管理办法（试行）》(商务部令2012年第9号)';
const both = (rule: string): string => `${PBOC}; ${MOFCOM}: ${rule} (article numbers to be verified against the current texts).`;

export interface CardPolicy {
  version: string;
  effectiveFrom: Date;
  /** The version this one was tuned from, or null for a regulatory baseline. */
  basedOn: string | null;
  /** Dotted field names loosened beyond `basedOn` with `allowLooser`, and why; empty when none. */
  loosened: readonly string[];
  looserReason: string | null;
  balanceLimit: { namedMaxMinor: bigint; anonymousMaxMinor: bigint; citation: string };
  /** Named cards always need the buyer's real-name data; anonymous ones from this one-purchase total. */
  realName: { anonymousPurchaseMinor: bigint; citation: string };
  /** One purchase at or above these totals must be paid by a transfer method, never cash. */
  purchaseTransfer: { organizationMinor: bigint; individualMinor: bigint; citation: string };
  rechargeTransfer: { singleRechargeMinor: bigint; citation: string };
  /**
   * What counts as "bank transfer" for the two rules above. Card payments from a debit card move
   * money between bank accounts whose holder and number the issuer can record, as the rules want.
   * Third-party channels are left out by default because the issuer usually sees only the
   * channel's account, not the payer's bank account; a product that can record it may add it.
   */
  transferMethods: { methods: readonly PaymentMethod[]; citation: string };
  creditCardFunding: { allowed: boolean; citation: string };
  validity: { namedExpiryAllowed: boolean; anonymousMinMonths: number; citation: string };
  redeem: { anonymousAllowed: boolean; namedAfterMonths: number; citation: string };
  /** Holder-name match on the receiving bank account is always required; cash only up to this amount. */
  residualRefund: { cashMaxMinor: bigint; citation: string };
  lossReport: { provisionalHours: number; citation: string };
  cashWithdrawal: { allowed: boolean; citation: string };
  interest: { allowed: boolean; citation: string };
  overdraft: { allowed: boolean; citation: string };
  expiredResidual: { reactivateOrReplace: boolean; citation: string };
}

type RuleKey = Exclude<keyof CardPolicy, 'version' | 'effectiveFrom' | 'basedOn' | 'loosened' | 'looserReason'>;

/**
 * Which way each tunable number or flag may move without loosening the rule: `max` may only go
 * down, `min` only up, `deny` flags (something is allowed) may only turn false, `require` flags
 * only stay true, `subset` lists may only shrink, `fixed` may not change in either direction
 * (moving it either way breaks a regulatory rule), `free` is a product choice without a source.
 */
type Direction = 'max' | 'min' | 'deny' | 'require' | 'subset' | 'fixed' | 'free';
const DIRECTIONS: { [K in RuleKey]: { [F in Exclude<keyof CardPolicy[K], 'citation'>]: Direction } } = {
  balanceLimit: { namedMaxMinor: 'max', anonymousMaxMinor: 'max' },
  realName: { anonymousPurchaseMinor: 'max' },
  purchaseTransfer: { organizationMinor: 'max', individualMinor: 'max' },
  rechargeTransfer: { singleRechargeMinor: 'max' },
  transferMethods: { methods: 'subset' },
  creditCardFunding: { allowed: 'deny' },
  validity: { namedExpiryAllowed: 'deny', anonymousMinMonths: 'min' },
  // Redeeming earlier weakens the anti-cash-out wait; later takes away the holder's right.
  redeem: { anonymousAllowed: 'deny', namedAfterMonths: 'fixed' },
  residualRefund: { cashMaxMinor: 'max' },
  lossReport: { provisionalHours: 'free' },
  cashWithdrawal: { allowed: 'deny' },
  interest: { allowed: 'deny' },
  overdraft: { allowed: 'deny' },
  expiredResidual: { reactivateOrReplace: 'require' },
};
const RULE_KEYS = Object.keys(DIRECTIONS) as RuleKey[];

const yuan = (y: number): bigint => BigInt(y) * 100n;

export const DEFAULT_CARD_POLICY: CardPolicy = deepFreeze({
  version: 'cn-2012-v1',
  effectiveFrom: new Date('2012-11-01T00:00:00+08:00'),
  basedOn: null,
  loosened: [],
  looserReason: null,
  balanceLimit: { namedMaxMinor: yuan(5000), anonymousMaxMinor: yuan(1000), citation: both('single named card at most 5,000 CNY, single anonymous card at most 1,000 CNY') },
  realName: {
    anonymousPurchaseMinor: yuan(10_000),
    citation: both('buying a named card, or anonymous cards totalling 10,000 CNY or more in one purchase, requires the buyer\'s real-name registration'),
  },
  purchaseTransfer: {
    organizationMinor: yuan(5000),
    individualMinor: yuan(50_000),
    citation: both('one purchase of 5,000 CNY or more by an organization, or 50,000 CNY or more by an individual, must be paid by bank transfer, not cash'),
  },
  rechargeTransfer: {
    singleRechargeMinor: yuan(5000),
    citation: `${MOFCOM}: a single recharge of 5,000 CNY or more must be made by bank transfer (article number to be verified; the matching ${PBOC} recharge provision is also to be verified).`,
  },
  transferMethods: { methods: ['bank_transfer', 'debit_card'], citation: both('"bank transfer or other non-cash settlement" with the paying account\'s name and number recorded') },
  creditCardFunding: { allowed: false, citation: `${PBOC}: buyers may not use credit cards to buy or recharge prepaid cards (article number to be verified).` },
  validity: {
    namedExpiryAllowed: false,
    anonymousMinMonths: 36,
    citation: both('named cards may not carry an expiry date; anonymous cards are valid for at least 3 years'),
  },
  redeem: {
    anonymousAllowed: false,
    namedAfterMonths: 3,
    citation: `${PBOC}: named cards can be redeemed from 3 months after purchase; anonymous cards are not redeemable except where the measures provide otherwise (article numbers to be verified).`,
  },
  residualRefund: {
    cashMaxMinor: yuan(100),
    citation: `${MOFCOM} Art. 21 per secondary sources (to be verified): refunds go to a bank account in the refunding person's name; cash only when the balance is 100 CNY or less.`,
  },
  lossReport: {
    provisionalHours: 72,
    citation: 'House rule, no regulatory source: a provisional loss report (预挂失) protects the card at once and lapses after 72 hours unless confirmed with identity documents. Loss reporting itself: named cards only, ' + both('named cards can be reported lost, anonymous cards cannot'),
  },
  cashWithdrawal: { allowed: false, citation: `${PBOC}: prepaid cards may not be used, directly or indirectly, to withdraw cash (article number to be verified).` },
  interest: { allowed: false, citation: 'Prepaid card balances earn no interest for the holder (source provision to be verified; listed in the card issue as a regulatory rule).' },
  overdraft: { allowed: false, citation: `${PBOC}: prepaid cards are denominated in RMB and may not have an overdraft function (article number to be verified).` },
  expiredResidual: { reactivateOrReplace: true, citation: both('an expired card with value left must be re-activated, extended or replaced on request') },
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Date)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export type PolicyOverrideError = 'policy_override_looser' | 'invalid_policy_override';

export type CardPolicyOverrides = {
  version: string;
  effectiveFrom: Date;
  /**
   * Loosening exists because the rules do change (the central bank may adjust the limits, and
   * some card kinds are exempt, e.g. small transit cards), but it must never happen by a typo in
   * a product's settings: without this flag a looser value is refused, and with it the merged
   * policy lists every loosened field and the reason, for the compliance review.
   */
  allowLooser?: boolean;
  looserReason?: string;
} & { [K in RuleKey]?: Partial<CardPolicy[K]> };

function validField(dir: Direction, v: unknown): boolean {
  switch (dir) {
    case 'max':
    case 'min':
    case 'fixed':
    case 'free':
      return (typeof v === 'bigint' && v >= 0n) || (typeof v === 'number' && Number.isInteger(v) && v > 0);
    case 'deny':
    case 'require':
      return typeof v === 'boolean';
    case 'subset':
      // Cash and credit cards are what the transfer rules exist to keep out; no flag lets them in.
      return Array.isArray(v) && v.every((m) => PAYMENT_METHODS.includes(m) && m !== 'cash' && m !== 'credit_card') && new Set(v).size === v.length;
    default:
      return assertNever(dir, 'direction');
  }
}

function isLooser(dir: Direction, base: unknown, next: unknown): boolean {
  switch (dir) {
    case 'max':
      return (next as bigint | number) > (base as bigint | number);
    case 'min':
      return (next as bigint | number) < (base as bigint | number);
    case 'fixed':
      return next !== base;
    case 'free':
      return false;
    case 'deny':
      return next === true && base === false;
    case 'require':
      return next === false && base === true;
    case 'subset':
      return (next as PaymentMethod[]).some((m) => !(base as PaymentMethod[]).includes(m));
    default:
      return assertNever(dir, 'direction');
  }
}

/**
 * A product's policy: `base` with `overrides` applied. Values must be of the right type, the
 * version must be new and the policy may not take effect before its base. Looser values are
 * refused unless `allowLooser` is set with a reason.
 */
export function mergePolicyOverrides(base: CardPolicy, overrides: CardPolicyOverrides): Result<CardPolicy, PolicyOverrideError> {
  const invalid = (message: string, field?: string): Fail<PolicyOverrideError> =>
    fail('invalid_policy_override', message, field === undefined ? undefined : { field });
  if (typeof overrides.version !== 'string' || overrides.version.trim() === '' || overrides.version === base.version) {
    return invalid('an override needs a new, non-empty version name so decisions made under the base keep theirs', 'version');
  }
  if (!(overrides.effectiveFrom instanceof Date) || Number.isNaN(overrides.effectiveFrom.getTime()) || overrides.effectiveFrom < base.effectiveFrom) {
    return invalid('effectiveFrom must be a valid time no earlier than the base policy\'s', 'effectiveFrom');
  }
  const allowLooser = overrides.allowLooser === true;
  if (allowLooser && !overrides.looserReason?.trim()) return invalid('allowLooser needs a looserReason', 'looserReason');
  const known = new Set<string>(['version', 'effectiveFrom', 'allowLooser', 'looserReason', ...RULE_KEYS]);
  for (const k of Object.keys(overrides)) if (!known.has(k)) return invalid(`unknown policy rule ${k}`, k);

  const merged: Record<string, unknown> = { ...base, version: overrides.version, effectiveFrom: overrides.effectiveFrom, basedOn: base.version };
  const loosened: string[] = [];
  for (const rule of RULE_KEYS) {
    const o = overrides[rule] as Record<string, unknown> | undefined;
    if (o === undefined) continue;
    const dirs = DIRECTIONS[rule] as Record<string, Direction>;
    const baseRule = base[rule] as unknown as Record<string, unknown>;
    const out: Record<string, unknown> = { ...baseRule };
    for (const [field, value] of Object.entries(o)) {
      const name = `${rule}.${field}`;
      if (field === 'citation') {
        if (typeof value !== 'string' || value.trim() === '') return invalid('a citation must be non-empty text', name);
        out[field] = value;
        continue;
      }
      const dir = dirs[field];
      if (dir === undefined) return invalid(`unknown policy field ${name}`, name);
      if (!validField(dir, value) || typeof value !== typeof baseRule[field]) return invalid(`${name} has an invalid value`, name);
      if (isLooser(dir, baseRule[field], value)) {
        if (!allowLooser) {
          return fail('policy_override_looser', `${name} would loosen ${base.version}; set allowLooser with a reason if that is intended`, {
            field: name,
            base: show(baseRule[field]),
            proposed: show(value),
            citation: baseRule['citation'],
          });
        }
        loosened.push(name);
      }
      out[field] = Array.isArray(value) ? [...(value as unknown[])] : value;
    }
    merged[rule] = out;
  }
  merged['loosened'] = loosened;
  merged['looserReason'] = loosened.length > 0 ? (overrides.looserReason ?? null) : null;
  return ok(deepFreeze(merged as unknown as CardPolicy));
}

/**
 * Turns overrides as they arrive in JSON (or as stored) — amounts as integers or decimal strings —
 * into typed overrides: a field whose base value is a bigint gets a bigint. Anything that does not
 * convert is left as it is, for `mergePolicyOverrides` to refuse with a precise message.
 */
export function overridesFromJson(base: CardPolicy, rules: Record<string, unknown>): Partial<Record<RuleKey, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [rule, fields] of Object.entries(rules)) {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
      out[rule] = fields as Record<string, unknown>;
      continue;
    }
    const baseRule = (base as unknown as Record<string, Record<string, unknown> | undefined>)[rule];
    const conv: Record<string, unknown> = {};
    for (const [field, v] of Object.entries(fields as Record<string, unknown>)) {
      const wantsBigint = typeof baseRule?.[field] === 'bigint';
      conv[field] = wantsBigint && ((typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v))) ? BigInt(v) : v;
    }
    out[rule] = conv;
  }
  return out as Partial<Record<RuleKey, Record<string, unknown>>>;
}

/** Overrides in a JSON-safe form (bigints as decimal strings), for storage and the API. */
export function overridesToJson(o: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>;
}

/** The version in force at `at`: the latest whose effectiveFrom is not after it. */
export function selectPolicy(versions: readonly CardPolicy[], at: Date): CardPolicy | undefined {
  let best: CardPolicy | undefined;
  for (const p of versions) if (p.effectiveFrom <= at && (!best || p.effectiveFrom > best.effectiveFrom)) best = p;
  return best;
}

/** Wire-safe form of a value for `details`: amounts as JSON integers, like the HTTP API. */
function show(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  return v;
}

function refuse<C extends string>(policy: CardPolicy, rule: RuleKey, code: C, message: string, extra: Record<string, unknown> = {}): Fail<C> {
  const details: Record<string, unknown> = { rule, policy_version: policy.version, citation: policy[rule].citation };
  for (const [k, v] of Object.entries(extra)) details[k] = show(v);
  return fail(code, message, details);
}

function assertAmount(v: bigint, what: string): void {
  if (typeof v !== 'bigint' || v < 0n) throw new Error(`${what} must be a non-negative bigint of minor units`);
}

export type BalanceLimitError = 'card_balance_limit_exceeded';

/** The balance a card would have after a load, recharge or refund, against its kind's limit. */
export function checkBalanceLimit(policy: CardPolicy, inp: { named: boolean; balanceAfterMinor: bigint }): Result<true, BalanceLimitError> {
  assertAmount(inp.balanceAfterMinor, 'balanceAfterMinor');
  const limit = inp.named ? policy.balanceLimit.namedMaxMinor : policy.balanceLimit.anonymousMaxMinor;
  if (inp.balanceAfterMinor <= limit) return ok(true);
  return refuse(policy, 'balanceLimit', 'card_balance_limit_exceeded', `a ${inp.named ? 'named' : 'anonymous'} card may hold at most ${limit} fen`, {
    limit,
    balance_after: inp.balanceAfterMinor,
  });
}

export type FundingError = 'credit_card_not_allowed' | 'bank_transfer_required';
export type PurchaseError = FundingError | 'real_name_required';

function checkFunding(policy: CardPolicy, method: PaymentMethod, amountMinor: bigint, thresholdMinor: bigint, rule: 'purchaseTransfer' | 'rechargeTransfer'): Result<true, FundingError> {
  if (method === 'credit_card' && !policy.creditCardFunding.allowed) {
    return refuse(policy, 'creditCardFunding', 'credit_card_not_allowed', 'prepaid cards may not be bought or recharged with a credit card');
  }
  if (amountMinor >= thresholdMinor && !policy.transferMethods.methods.includes(method)) {
    return refuse(policy, rule, 'bank_transfer_required', `from ${thresholdMinor} fen this must be paid by ${policy.transferMethods.methods.join(' or ')}`, {
      threshold: thresholdMinor,
      amount: amountMinor,
      payment_method: method,
      allowed_methods: [...policy.transferMethods.methods],
      transfer_citation: policy.transferMethods.citation,
    });
  }
  return ok(true);
}

/**
 * One purchase of one or more cards of one kind. Checked in this order, so a request always gets
 * the same code: credit card, then real name, then transfer method.
 */
export function checkPurchase(
  policy: CardPolicy,
  inp: { buyerKind: BuyerKind; named: boolean; totalMinor: bigint; paymentMethod: PaymentMethod; buyerRealName: boolean },
): Result<true, PurchaseError> {
  assertAmount(inp.totalMinor, 'totalMinor');
  if (inp.paymentMethod === 'credit_card' && !policy.creditCardFunding.allowed) {
    return refuse(policy, 'creditCardFunding', 'credit_card_not_allowed', 'prepaid cards may not be bought with a credit card');
  }
  const realNameNeeded = inp.named || inp.totalMinor >= policy.realName.anonymousPurchaseMinor;
  if (realNameNeeded && !inp.buyerRealName) {
    return refuse(policy, 'realName', 'real_name_required', inp.named ? 'named cards need the buyer\'s real-name data' : `anonymous card purchases from ${policy.realName.anonymousPurchaseMinor} fen need the buyer's real-name data`, {
      threshold: policy.realName.anonymousPurchaseMinor,
      amount: inp.totalMinor,
      named: inp.named,
    });
  }
  let threshold: bigint;
  switch (inp.buyerKind) {
    case 'individual':
      threshold = policy.purchaseTransfer.individualMinor;
      break;
    case 'organization':
      threshold = policy.purchaseTransfer.organizationMinor;
      break;
    default:
      return assertNever(inp.buyerKind, 'buyer kind');
  }
  return checkFunding(policy, inp.paymentMethod, inp.totalMinor, threshold, 'purchaseTransfer');
}

/** One recharge of one card; its resulting balance is checked separately by checkBalanceLimit. */
export function checkRecharge(policy: CardPolicy, inp: { amountMinor: bigint; paymentMethod: PaymentMethod }): Result<true, FundingError> {
  assertAmount(inp.amountMinor, 'amountMinor');
  return checkFunding(policy, inp.paymentMethod, inp.amountMinor, policy.rechargeTransfer.singleRechargeMinor, 'rechargeTransfer');
}

/**
 * The date `months` calendar months after an ISO date. When the target month has no such day the
 * period ends on its last day (民法典 Art. 202), so 2024-11-30 + 3 months is 2025-02-28. The
 * holder may act on that corresponding day itself; a reading of Art. 201 that starts counting the
 * day after the event would move this one day later; compliance should confirm the reading.
 */
export function addCalendarMonths(isoDate: string, months: number): string {
  const [y, m, d] = isoDate.split('-').map(Number) as [number, number, number];
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(d, lastDay))).toISOString().slice(0, 10);
}

export type ValidityError = 'named_card_expiry_not_allowed' | 'card_validity_too_short';

/**
 * A card's validity at issue. Periods are counted in business dates (default Asia/Shanghai) since
 * that is the calendar the holder reads on the card. Anonymous cards without an expiry pass: no
 * expiry is longer than any minimum.
 */
export function checkValidity(policy: CardPolicy, inp: { named: boolean; validUntil: Date | null; issuedAt: Date; timeZone?: string }): Result<true, ValidityError> {
  if (inp.validUntil === null) return ok(true);
  if (inp.named) {
    if (policy.validity.namedExpiryAllowed) return ok(true);
    return refuse(policy, 'validity', 'named_card_expiry_not_allowed', 'named cards may not carry an expiry date', { valid_until: inp.validUntil });
  }
  const tz = inp.timeZone ?? DEFAULT_BUSINESS_TIME_ZONE;
  const earliest = addCalendarMonths(businessDate(inp.issuedAt, tz), policy.validity.anonymousMinMonths);
  if (businessDate(inp.validUntil, tz) >= earliest) return ok(true);
  return refuse(policy, 'validity', 'card_validity_too_short', `an anonymous card must stay valid at least ${policy.validity.anonymousMinMonths} months, until ${earliest} or later`, {
    min_months: policy.validity.anonymousMinMonths,
    earliest_valid_until: earliest,
    valid_until: inp.validUntil,
  });
}

export type RedeemError = 'card_not_redeemable' | 'redeem_too_early';

/** Whether the holder may redeem (赎回) the card's balance now; the date rule uses business dates. */
export function checkRedeem(policy: CardPolicy, inp: { named: boolean; purchasedAt: Date; now: Date; timeZone?: string }): Result<true, RedeemError> {
  if (!inp.named && !policy.redeem.anonymousAllowed) {
    return refuse(policy, 'redeem', 'card_not_redeemable', 'anonymous cards cannot be redeemed');
  }
  const tz = inp.timeZone ?? DEFAULT_BUSINESS_TIME_ZONE;
  const from = addCalendarMonths(businessDate(inp.purchasedAt, tz), policy.redeem.namedAfterMonths);
  if (businessDate(inp.now, tz) >= from) return ok(true);
  return refuse(policy, 'redeem', 'redeem_too_early', `this card can be redeemed from ${from}`, { redeemable_from: from, after_months: policy.redeem.namedAfterMonths });
}

export type ResidualRefundError = 'cash_refund_limit_exceeded' | 'refund_account_name_mismatch';

/** Paying out a card's residual value on redemption, closure or product termination. */
export function checkResidualRefund(policy: CardPolicy, inp: { amountMinor: bigint; method: 'cash' | 'bank_account'; holderNameMatches: boolean }): Result<true, ResidualRefundError> {
  assertAmount(inp.amountMinor, 'amountMinor');
  switch (inp.method) {
    case 'cash':
      if (inp.amountMinor <= policy.residualRefund.cashMaxMinor) return ok(true);
      return refuse(policy, 'residualRefund', 'cash_refund_limit_exceeded', `residual value above ${policy.residualRefund.cashMaxMinor} fen goes to a bank account in the holder's name`, {
        limit: policy.residualRefund.cashMaxMinor,
        amount: inp.amountMinor,
      });
    case 'bank_account':
      if (inp.holderNameMatches) return ok(true);
      return refuse(policy, 'residualRefund', 'refund_account_name_mismatch', 'the receiving bank account must be in the holder\'s name');
    default:
      return assertNever(inp.method, 'refund method');
  }
}

export type LossReportError = 'anonymous_card_not_reportable';

export function checkLossReport(policy: CardPolicy, inp: { named: boolean }): Result<true, LossReportError> {
  if (inp.named) return ok(true);
  return refuse(policy, 'lossReport', 'anonymous_card_not_reportable', 'anonymous cards cannot be reported lost');
}
