/**
 * Use cases for merchants (商户): a merchant profile on an organization or individual-business
 * customer. Creating one also opens (or adopts) the customer's CNY merchant_settlement account,
 * which payments credit and settlement debits. A merchant starts pending and must be activated,
 * which needs an active customer at real-name level 2 or above.
 */
import { isUniqueViolation, withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { businessNo } from '../../kernel/ids.js';
import type { StatementEntry } from '../ledger/index.js';
import * as changes from './changes.store.js';
import * as accounts from './accounts.js';
import * as accountsStore from './accounts.store.js';
import type { Ctx, PartiesResult } from './context.js';
import * as customers from './customers.store.js';
import { checkDomains } from './domain/notify-domains.js';
import { canChangeMerchantStatus } from './domain/status.js';
import { MERCHANT_MIN_REAL_NAME_LEVEL, MERCHANT_STATUSES, type BusinessAccount, type Merchant, type MerchantStatus } from './domain/types.js';
import { checkMcc, checkReason, checkRef, checkSettlementCycle, checkText, isOneOf } from './domain/validate.js';
import * as store from './merchants.store.js';

export const SETTLEMENT_CURRENCY = 'CNY';

export interface CreateMerchantInput {
  customerId: bigint;
  displayName: string;
  notifyDomains?: readonly string[];
  mcc: string;
  feePlanRef?: string;
  settlementCycle: string;
}

export async function createMerchant(ctx: Ctx, inp: CreateMerchantInput): Promise<PartiesResult<Merchant>> {
  const name = checkText('invalid_merchant', 'display_name', inp.displayName, 1, 64);
  if (!name.ok) return name;
  const domains = checkDomains(inp.notifyDomains ?? []);
  if (!domains.ok) return domains;
  const mcc = checkMcc(inp.mcc);
  if (!mcc.ok) return mcc;
  const fee = inp.feePlanRef === undefined ? undefined : checkRef('invalid_merchant', 'fee_plan_ref', inp.feePlanRef);
  if (fee && !fee.ok) return fee;
  const cycle = checkSettlementCycle(inp.settlementCycle);
  if (!cycle.ok) return cycle;

  let created: PartiesResult<{ merchant: Merchant; settlement: BusinessAccount }>;
  try {
    created = await withTx(ctx.pool, async (db): Promise<PartiesResult<{ merchant: Merchant; settlement: BusinessAccount }>> => {
      const c = await customers.getCustomer(db, inp.customerId, 'update');
      if (!c) return fail('customer_not_found', `customer ${inp.customerId} does not exist`);
      if (c.status !== 'active') return fail('customer_not_active', `customer ${c.id} is ${c.status}`);
      if (c.kind === 'individual') return fail('customer_kind_not_allowed', 'a merchant is an organization or an individual business (个体工商户), not an individual');
      const prior = await store.getByCustomer(db, c.id);
      if (prior) return fail('merchant_exists', `customer ${c.id} already has merchant ${prior.merchantNo}`, { merchant_id: prior.id.toString() });
      const now = ctx.clock.now();
      const settlement =
        (await accountsStore.findOpenSettlement(db, c.id, SETTLEMENT_CURRENCY)) ??
        (await accountsStore.insertAccount(db, { id: ctx.nextId(), customerId: c.id, kind: 'merchant_settlement', currency: SETTLEMENT_CURRENCY, externalRef: null }, now));
      const id = ctx.nextId();
      const merchant = await store.insertMerchant(db, {
        id, customerId: c.id, merchantNo: businessNo('M', id), displayName: name.value, notifyDomains: domains.value, mcc: mcc.value,
        feePlanRef: fee?.value ?? null, settlementCycle: cycle.value, settlementAccountId: settlement.id,
      }, now);
      return ok({ merchant, settlement });
    });
  } catch (e) {
    if (isUniqueViolation(e, 'merchants_customer_id_key')) return fail('merchant_exists', `customer ${inp.customerId} already has a merchant profile`);
    throw e;
  }
  if (!created.ok) return created;
  // The profile is committed; if the ledger call fails now, the next read of the account completes it.
  const ledger = await accounts.ensureLedgerAccount(ctx, ctx.pool, created.value.settlement);
  if (!ledger.ok) return ledger;
  ctx.log?.info({ merchantId: created.value.merchant.id.toString(), merchantNo: created.value.merchant.merchantNo }, 'merchant created');
  return ok(created.value.merchant);
}

export async function getMerchant(ctx: Ctx, id: bigint): Promise<PartiesResult<Merchant>> {
  const m = await store.getMerchant(ctx.pool, id);
  return m ? ok(m) : fail('merchant_not_found', `merchant ${id} does not exist`);
}

export async function getMerchantByNo(ctx: Ctx, merchantNo: string): Promise<PartiesResult<Merchant>> {
  const m = await store.getByNo(ctx.pool, merchantNo);
  return m ? ok(m) : fail('merchant_not_found', `merchant ${merchantNo} does not exist`);
}

export function listMerchants(ctx: Ctx, f: { status?: MerchantStatus; afterId?: bigint; limit: number }): Promise<Merchant[]> {
  return store.listMerchants(ctx.pool, f);
}

export async function setMerchantStatus(ctx: Ctx, inp: { id: bigint; status: string; reason?: string; actor?: string }): Promise<PartiesResult<Merchant>> {
  if (!isOneOf(MERCHANT_STATUSES, inp.status)) return fail('invalid_merchant', `status must be one of ${MERCHANT_STATUSES.join(', ')}`, { field: 'status' });
  const to: MerchantStatus = inp.status;
  const reason = checkReason('invalid_merchant', inp.reason);
  if (!reason.ok) return reason;
  return withTx(ctx.pool, async (db): Promise<PartiesResult<Merchant>> => {
    const m = await store.getMerchant(db, inp.id, true);
    if (!m) return fail('merchant_not_found', `merchant ${inp.id} does not exist`);
    if (m.status === to) return ok(m);
    if (!canChangeMerchantStatus(m.status, to)) return fail('invalid_status_transition', `a ${m.status} merchant cannot become ${to}`);
    if (to === 'active') {
      const c = await customers.getCustomer(db, m.customerId, 'share');
      if (!c || c.status !== 'active') return fail('customer_not_active', `the customer of merchant ${m.merchantNo} is ${c?.status ?? 'missing'}`);
      if (c.realNameLevel < MERCHANT_MIN_REAL_NAME_LEVEL) {
        return fail('real_name_level_too_low', `activating a merchant needs real-name level ${MERCHANT_MIN_REAL_NAME_LEVEL}; the customer has ${c.realNameLevel}`);
      }
    }
    const now = ctx.clock.now();
    const updated = await store.updateStatus(db, m.id, to, now);
    await changes.insertChange(db, ctx.nextId(), { entity: 'merchant', entityId: m.id.toString(), field: 'status', oldValue: m.status, newValue: to, reason: reason.value, actor: inp.actor ?? '' }, now);
    return ok(updated);
  });
}

/** The business accounts of the merchant's customer, with balances. */
export async function merchantAccounts(ctx: Ctx, merchantId: bigint, page: { afterId?: bigint; limit: number }): Promise<PartiesResult<accounts.AccountWithBalance[]>> {
  const m = await store.getMerchant(ctx.pool, merchantId);
  if (!m) return fail('merchant_not_found', `merchant ${merchantId} does not exist`);
  return accounts.listAccounts(ctx, { customerId: m.customerId, ...page });
}

/** The statement of one of the merchant's own accounts; any other account id is "not found". */
export async function merchantStatement(ctx: Ctx, inp: Omit<accounts.StatementInput, 'customerId'> & { merchantId: bigint }): Promise<PartiesResult<StatementEntry[]>> {
  const m = await store.getMerchant(ctx.pool, inp.merchantId);
  if (!m) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
  const { merchantId: _, ...rest } = inp;
  return accounts.statement(ctx, { ...rest, customerId: m.customerId });
}

/**
 * What other modules need to pay a merchant: its status and the ledger account of its settlement
 * account (应付商户款). Money owed to the merchant is credited there.
 */
export async function merchantPayee(ctx: Ctx, merchantId: bigint): Promise<PartiesResult<{ merchant: Merchant; settlementLedgerAccountId: bigint }>> {
  const m = await store.getMerchant(ctx.pool, merchantId);
  if (!m) return fail('merchant_not_found', `merchant ${merchantId} does not exist`);
  const a = await accounts.getAccount(ctx, { customerId: m.customerId, accountId: m.settlementAccountId });
  if (!a.ok) return a;
  return ok({ merchant: m, settlementLedgerAccountId: a.value.account.ledgerAccountId });
}
