/** Card products (卡产品): who issues them, where they are accepted, their limits, fees and bonus rules. */
import { fail, ok } from '../../kernel/errors.js';
import { MAX_AMOUNT_MINOR } from '../../kernel/money.js';
import * as store from './cards.store.js';
import { type CardsResult, type Ctx } from './context.js';
import { cardNumberCapacity } from './domain/card-number.js';
import { checkValidity, DEFAULT_CARD_POLICY, mergePolicyOverrides, overridesFromJson, overridesToJson, type CardPolicy, type CardPolicyOverrides } from './domain/policy.js';
import type { BonusRule, CardProduct } from './types.js';

export interface CreateProductInput {
  code: string;
  name: string;
  issuerKind: 'platform' | 'merchant';
  issuerMerchantId?: bigint;
  issuerClass?: 'A' | 'B' | 'C';
  purpose: 'single' | 'multi';
  named: boolean;
  currency?: string;
  binPrefix: string;
  numberLength: number;
  validityMonths?: number | null;
  rechargeable: boolean;
  issuanceFeeMinor?: bigint;
  replacementFeeMinor?: bigint;
  bonusRules?: BonusRule[];
  bonusSpendOrder?: 'principal_first' | 'bonus_first';
  /** Stricter balance limits than the regulatory default (never looser). */
  balanceLimitMinor?: bigint;
  /**
   * Tuning of the regulatory default for this product: rule name → fields to change (e.g.
   * `{ rechargeTransfer: { singleRechargeMinor: 2000_00 } }`). Stricter values are accepted;
   * looser ones only with `allowLooser` and a `looserReason`, and are listed in the policy.
   */
  policy?: { rules: Record<string, unknown>; allowLooser?: boolean; looserReason?: string };
}

const CODE_RE = /^[A-Za-z0-9_-]{1,40}$/;

/**
 * The policy a product's decisions are made under: the default, tuned by the product's overrides.
 * Stored overrides are `{ rules, allow_looser, looser_reason }` (rules as in `CardPolicyOverrides`,
 * amounts as decimal strings); `balance_limit_minor` alone is the older shorthand for lowering both
 * balance limits.
 */
export function policyFor(p: Pick<CardProduct, 'policyOverrides' | 'policyVersion'>): CardPolicy {
  const o = p.policyOverrides;
  const rules: Record<string, unknown> = typeof o['rules'] === 'object' && o['rules'] !== null ? { ...(o['rules'] as Record<string, unknown>) } : {};
  const limit = o['balance_limit_minor'];
  if (typeof limit === 'string') {
    rules['balanceLimit'] = { namedMaxMinor: min(BigInt(limit), DEFAULT_CARD_POLICY.balanceLimit.namedMaxMinor), anonymousMaxMinor: min(BigInt(limit), DEFAULT_CARD_POLICY.balanceLimit.anonymousMaxMinor) };
  }
  if (Object.keys(rules).length === 0) return DEFAULT_CARD_POLICY;
  const merged = mergeProductPolicy(p.policyVersion, rules, o['allow_looser'] === true, typeof o['looser_reason'] === 'string' ? o['looser_reason'] : undefined);
  if (!merged.ok) throw new Error(`stored policy override of version ${p.policyVersion} no longer merges: ${merged.message}`);
  return merged.value;
}

function mergeProductPolicy(version: string, rules: Record<string, unknown>, allowLooser: boolean, looserReason: string | undefined) {
  return mergePolicyOverrides(DEFAULT_CARD_POLICY, {
    version,
    effectiveFrom: DEFAULT_CARD_POLICY.effectiveFrom,
    ...overridesFromJson(DEFAULT_CARD_POLICY, rules),
    ...(allowLooser ? { allowLooser } : {}),
    ...(looserReason !== undefined ? { looserReason } : {}),
  } as CardPolicyOverrides);
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export async function createProduct(ctx: Ctx, inp: CreateProductInput): Promise<CardsResult<{ product: CardProduct; created: boolean }>> {
  const bad = (message: string) => fail('invalid_product', message);
  if (!CODE_RE.test(inp.code)) return bad('code must be 1-40 letters, digits, _ or -');
  if (inp.name.trim() === '' || inp.name.length > 100) return bad('name must be 1-100 characters');
  if (inp.issuerClass !== undefined && !['A', 'B', 'C'].includes(inp.issuerClass)) return bad('issuer_class is A, B or C');
  const currency = inp.currency ?? 'CNY';
  if (currency !== 'CNY') return bad('prepaid cards are denominated in CNY (人民币计价)');
  if (inp.purpose === 'single' && (inp.issuerKind !== 'merchant' || inp.issuerMerchantId === undefined)) {
    return bad('a single-purpose card is issued by a merchant (issuer_kind merchant with issuer_merchant_id)');
  }
  if (inp.issuerKind === 'merchant') {
    if (inp.issuerMerchantId === undefined) return bad('issuer_merchant_id is required for merchant-issued products');
    const m = await ctx.parties.merchantPayee({ merchantId: inp.issuerMerchantId });
    if (!m.ok) return fail('merchant_not_found', `merchant ${inp.issuerMerchantId} does not exist`);
  }
  const cap = cardNumberCapacity({ prefix: inp.binPrefix, length: inp.numberLength });
  if (!cap.ok) return fail(cap.code, cap.message);
  const fees = [inp.issuanceFeeMinor ?? 0n, inp.replacementFeeMinor ?? 0n];
  if (fees.some((f) => f < 0n || f > MAX_AMOUNT_MINOR)) return bad('fees must be between 0 and the safe integer range');
  const rules = inp.bonusRules ?? [];
  if (rules.length > 20 || rules.some((r) => r.minRechargeMinor <= 0n || r.bonusMinor <= 0n || r.bonusMinor > r.minRechargeMinor)) {
    return bad('bonus rules: at most 20, each with a positive threshold and a positive bonus not above it');
  }
  if (rules.some((r) => r.validDays !== undefined && (!Number.isInteger(r.validDays) || r.validDays < 1 || r.validDays > 3650))) {
    return bad('a bonus rule\'s valid_days is a whole number of days, 1-3650');
  }
  if (!inp.rechargeable && rules.length > 0) return bad('bonus rules apply to recharges; this product is not rechargeable');
  const now = ctx.clock.now();
  const validityMonths = inp.validityMonths ?? null;
  if (validityMonths !== null && (!Number.isInteger(validityMonths) || validityMonths < 1 || validityMonths > 1200)) return bad('validity_months must be 1-1200 or absent');
  const sampleValidUntil = validityMonths === null ? null : new Date(now.getTime() + validityMonths * 31 * 86_400_000);
  const overrides: Record<string, unknown> = {};
  let policyVersion = DEFAULT_CARD_POLICY.version;
  if (inp.balanceLimitMinor !== undefined) {
    const limit = inp.named ? DEFAULT_CARD_POLICY.balanceLimit.namedMaxMinor : DEFAULT_CARD_POLICY.balanceLimit.anonymousMaxMinor;
    if (inp.balanceLimitMinor <= 0n || inp.balanceLimitMinor > limit) return fail('policy_override_looser', `the balance limit may only be lowered (at most ${limit})`);
    overrides['balance_limit_minor'] = inp.balanceLimitMinor.toString();
    policyVersion = `${DEFAULT_CARD_POLICY.version}/${inp.code}`;
  }
  if (inp.policy !== undefined) {
    if (inp.policy.rules['balanceLimit'] !== undefined && inp.balanceLimitMinor !== undefined) return fail('invalid_policy_override', 'give the balance limit either as balance_limit or in the policy rules, not both');
    policyVersion = `${DEFAULT_CARD_POLICY.version}/${inp.code}`;
    // Checked now, so a product never stores overrides that do not merge.
    const merged = mergeProductPolicy(policyVersion, inp.policy.rules, inp.policy.allowLooser === true, inp.policy.looserReason);
    if (!merged.ok) return merged;
    overrides['rules'] = overridesToJson(overridesFromJson(DEFAULT_CARD_POLICY, inp.policy.rules));
    if (inp.policy.allowLooser) {
      overrides['allow_looser'] = true;
      overrides['looser_reason'] = inp.policy.looserReason ?? null;
    }
  }
  const product: CardProduct = {
    id: ctx.nextId(),
    code: inp.code,
    name: inp.name,
    issuerKind: inp.issuerKind,
    issuerMerchantId: inp.issuerMerchantId ?? null,
    issuerClass: inp.issuerClass ?? 'B',
    purpose: inp.purpose,
    named: inp.named,
    currency,
    binPrefix: inp.binPrefix,
    numberLength: inp.numberLength,
    validityMonths,
    rechargeable: inp.rechargeable,
    issuanceFee: fees[0]!,
    replacementFee: fees[1]!,
    bonusRules: [...rules].sort((a, b) => (a.minRechargeMinor < b.minRechargeMinor ? -1 : 1)),
    bonusSpendOrder: inp.bonusSpendOrder ?? 'principal_first',
    policyVersion,
    policyOverrides: overrides,
    status: 'active',
    createdAt: now,
  };
  const policy = policyFor(product);
  const validity = checkValidity(policy, { named: inp.named, validUntil: sampleValidUntil, issuedAt: now, timeZone: ctx.businessTimeZone });
  if (!validity.ok) return validity;
  await store.ensurePolicy(ctx.pool, policy.version, policy.effectiveFrom, policy, now);
  const { product: saved, inserted } = await store.insertProduct(ctx.pool, product);
  if (!inserted) {
    const same = saved.named === product.named && saved.purpose === product.purpose && saved.binPrefix === product.binPrefix &&
      saved.numberLength === product.numberLength && saved.issuerMerchantId === product.issuerMerchantId && saved.rechargeable === product.rechargeable &&
      JSON.stringify(saved.policyOverrides) === JSON.stringify(product.policyOverrides);
    if (!same) return fail('product_exists_with_different_fields', `a product with code ${inp.code} already exists with different fields`);
    return ok({ product: saved, created: false });
  }
  if (saved.issuerMerchantId !== null) await store.addAcceptance(ctx.pool, saved.id, saved.issuerMerchantId, now);
  return ok({ product: saved, created: true });
}

export async function getProduct(ctx: Ctx, id: bigint): Promise<CardsResult<CardProduct>> {
  const p = await store.getProduct(ctx.pool, id);
  return p ? ok(p) : fail('product_not_found', `card product ${id} does not exist`);
}

/** Adds a merchant that accepts the product. Single-purpose cards are accepted only by the issuer's own merchants. */
export async function addAcceptingMerchant(ctx: Ctx, inp: { productId: bigint; merchantId: bigint }): Promise<CardsResult<bigint[]>> {
  const p = await store.getProduct(ctx.pool, inp.productId);
  if (!p) return fail('product_not_found', `card product ${inp.productId} does not exist`);
  const m = await ctx.parties.merchantPayee({ merchantId: inp.merchantId });
  if (!m.ok) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
  if (p.purpose === 'single' && p.issuerMerchantId !== null && inp.merchantId !== p.issuerMerchantId) {
    // A single-purpose card may be used only within the issuing business; other merchant ids are
    // accepted when they belong to the same customer (the issuer's own stores).
    const issuer = await ctx.parties.merchantPayee({ merchantId: p.issuerMerchantId });
    if (!issuer.ok || issuer.value.merchant.customerId !== m.value.merchant.customerId) {
      return fail('invalid_product', 'a single-purpose card can only be accepted by the issuer\'s own merchants');
    }
  }
  await store.addAcceptance(ctx.pool, p.id, inp.merchantId, ctx.clock.now());
  ctx.acceptance.delete(`${p.id}:${inp.merchantId}`);
  return ok(await store.listAcceptance(ctx.pool, p.id));
}
