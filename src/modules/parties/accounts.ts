/**
 * Use cases for business accounts (账户): what a customer holds with us, each backed by one
 * ledger account (ref "party-account:<id>", owner = the customer) that carries the money.
 *
 * Opening follows "record the intent, then act, then record the outcome": the business account
 * row is written first with no ledger account, then the ledger account is created (idempotent by
 * its ref), then its id is recorded. A crash in between leaves a row that the next read or retry
 * completes (ensureLedgerAccount), never an orphaned ledger account nobody refers to.
 */
import { isUniqueViolation, withTx, type Queryable } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { checkCurrency } from '../../kernel/money.js';
import { availableBalance, postedBalance, type AccountStatus, type StatementEntry } from '../ledger/index.js';
import * as changes from './changes.store.js';
import * as store from './accounts.store.js';
import type { Ctx, PartiesResult } from './context.js';
import * as customers from './customers.store.js';
import { accountKindRule, ledgerNameFor, ledgerRefFor } from './domain/account-kinds.js';
import { canChangeAccountStatus } from './domain/status.js';
import { BUSINESS_ACCOUNT_KINDS, BUSINESS_ACCOUNT_STATUSES, type BusinessAccount, type BusinessAccountKind, type BusinessAccountStatus } from './domain/types.js';
import { checkReason, checkRef, isOneOf } from './domain/validate.js';

export interface AccountWithBalance {
  account: BusinessAccount & { ledgerAccountId: bigint };
  /** The ledger account's own status; it mirrors the business account's. */
  ledgerStatus: AccountStatus;
  balances: { postedMinor: bigint; availableMinor: bigint; debitsPendingMinor: bigint; creditsPendingMinor: bigint };
}

/** Creates the backing ledger account if it is still missing and records its id through `db`. */
export async function ensureLedgerAccount(ctx: Ctx, db: Queryable, a: BusinessAccount): Promise<PartiesResult<bigint>> {
  if (a.ledgerAccountId !== null) return ok(a.ledgerAccountId);
  const rule = accountKindRule(a.kind);
  const r = await ctx.ledger.createAccount({
    type: rule.ledgerType,
    currency: a.currency,
    subjectCode: rule.subjectCode,
    ref: ledgerRefFor(a.id),
    ownerId: a.customerId,
    name: ledgerNameFor(a.id, a.kind),
    debitsMustNotExceedCredits: rule.debitsMustNotExceedCredits,
    metadata: { business_account_id: a.id.toString(), kind: a.kind },
  });
  if (!r.ok) return r;
  await store.setLedgerAccountId(db, a.id, r.value.account.id);
  return ok(r.value.account.id);
}

export async function withBalance(ctx: Ctx, a: BusinessAccount): Promise<PartiesResult<AccountWithBalance>> {
  const id = await ensureLedgerAccount(ctx, ctx.pool, a);
  if (!id.ok) return id;
  const l = await ctx.ledger.getAccount(id.value);
  if (!l.ok) return l;
  const la = l.value;
  return ok({
    account: { ...a, ledgerAccountId: id.value },
    ledgerStatus: la.status,
    balances: { postedMinor: postedBalance(la), availableMinor: availableBalance(la), debitsPendingMinor: la.debitsPending, creditsPendingMinor: la.creditsPending },
  });
}

export interface OpenAccountInput {
  customerId: bigint;
  kind: string;
  currency: string;
  /** The client's own reference: opening again with it returns the first account instead of a second one. */
  externalRef?: string;
}

function sameAccount(a: BusinessAccount, kind: BusinessAccountKind, currency: string): PartiesResult<BusinessAccount> {
  return a.kind === kind && a.currency === currency
    ? ok(a)
    : fail('business_account_ref_conflict', `external_ref ${a.externalRef} is already used by a ${a.kind} account in ${a.currency}`, { business_account_id: a.id.toString() });
}

export async function openAccount(ctx: Ctx, inp: OpenAccountInput): Promise<PartiesResult<{ account: AccountWithBalance; created: boolean }>> {
  if (!isOneOf(BUSINESS_ACCOUNT_KINDS, inp.kind)) return fail('invalid_business_account', `kind must be one of ${BUSINESS_ACCOUNT_KINDS.join(', ')}`, { field: 'kind' });
  const kind: BusinessAccountKind = inp.kind;
  if (!checkCurrency(inp.currency).ok) return fail('invalid_business_account', `unknown currency ${inp.currency}`, { field: 'currency' });
  if (inp.externalRef !== undefined) {
    const ref = checkRef('invalid_business_account', 'external_ref', inp.externalRef);
    if (!ref.ok) return ref;
  }
  const existing = async (): Promise<PartiesResult<{ account: AccountWithBalance; created: boolean }> | undefined> => {
    if (inp.externalRef === undefined) return undefined;
    const a = await store.getByExternalRef(ctx.pool, inp.customerId, inp.externalRef);
    if (!a) return undefined;
    const same = sameAccount(a, kind, inp.currency);
    if (!same.ok) return same;
    const v = await withBalance(ctx, a);
    return v.ok ? ok({ account: v.value, created: false }) : v;
  };
  const before = await existing();
  if (before) return before;
  let inserted: PartiesResult<BusinessAccount>;
  try {
    inserted = await withTx(ctx.pool, async (db): Promise<PartiesResult<BusinessAccount>> => {
      const c = await customers.getCustomer(db, inp.customerId, 'share');
      if (!c) return fail('customer_not_found', `customer ${inp.customerId} does not exist`);
      if (c.status !== 'active') return fail('customer_not_active', `customer ${c.id} is ${c.status}`);
      if (!accountKindRule(kind).customerKinds.includes(c.kind)) return fail('customer_kind_not_allowed', `a customer of kind ${c.kind} cannot hold a ${kind} account`);
      if (kind === 'merchant_settlement') {
        const open = await store.findOpenSettlement(db, c.id, inp.currency);
        if (open) return fail('business_account_exists', `customer ${c.id} already has an open settlement account in ${inp.currency}`, { business_account_id: open.id.toString() });
      }
      return ok(await store.insertAccount(db, { id: ctx.nextId(), customerId: c.id, kind, currency: inp.currency, externalRef: inp.externalRef ?? null }, ctx.clock.now()));
    });
  } catch (e) {
    // A concurrent open with the same external_ref won the race: answer as a retry would.
    if (isUniqueViolation(e, 'business_accounts_external_ref')) return (await existing()) ?? fail('business_account_ref_conflict', 'external_ref is already used');
    if (isUniqueViolation(e, 'business_accounts_one_settlement')) return fail('business_account_exists', `customer ${inp.customerId} already has an open settlement account in ${inp.currency}`);
    throw e;
  }
  if (!inserted.ok) return inserted;
  const v = await withBalance(ctx, inserted.value);
  if (!v.ok) return v;
  ctx.log?.info({ businessAccountId: inserted.value.id.toString(), kind, ledgerAccountId: v.value.account.ledgerAccountId.toString() }, 'business account opened');
  return ok({ account: v.value, created: true });
}

/** A business account of a customer; another customer's account is "not found", not "forbidden". */
export async function getAccount(ctx: Ctx, inp: { customerId: bigint; accountId: bigint }): Promise<PartiesResult<AccountWithBalance>> {
  const a = await store.getAccount(ctx.pool, inp.accountId);
  if (!a || a.customerId !== inp.customerId) return fail('business_account_not_found', `customer ${inp.customerId} has no business account ${inp.accountId}`);
  return withBalance(ctx, a);
}

export async function listAccounts(ctx: Ctx, f: { customerId: bigint; afterId?: bigint; limit: number }): Promise<PartiesResult<AccountWithBalance[]>> {
  if (!(await customers.getCustomer(ctx.pool, f.customerId))) return fail('customer_not_found', `customer ${f.customerId} does not exist`);
  const rows = await store.listAccounts(ctx.pool, f);
  const out: AccountWithBalance[] = [];
  for (const a of rows) {
    const v = await withBalance(ctx, a);
    if (!v.ok) return v;
    out.push(v.value);
  }
  return ok(out);
}

/**
 * Changes the status of a business account and mirrors it onto its ledger account, which is
 * what actually stops money moving. The ledger goes first: if it refuses (closing an account
 * that still holds money is account_not_empty), the business account keeps its status. The
 * business account row stays locked meanwhile so concurrent changes apply in one order to both.
 */
export async function setAccountStatus(
  ctx: Ctx,
  inp: { customerId: bigint; accountId: bigint; status: string; reason?: string; actor?: string },
): Promise<PartiesResult<AccountWithBalance>> {
  if (!isOneOf(BUSINESS_ACCOUNT_STATUSES, inp.status)) return fail('invalid_business_account', `status must be one of ${BUSINESS_ACCOUNT_STATUSES.join(', ')}`, { field: 'status' });
  const to: BusinessAccountStatus = inp.status;
  const reason = checkReason('invalid_business_account', inp.reason);
  if (!reason.ok) return reason;
  const changed = await withTx(ctx.pool, async (db): Promise<PartiesResult<BusinessAccount>> => {
    const a = await store.getAccount(db, inp.accountId, true);
    if (!a || a.customerId !== inp.customerId) return fail('business_account_not_found', `customer ${inp.customerId} has no business account ${inp.accountId}`);
    if (a.status === to) return ok(a);
    if (!canChangeAccountStatus(a.status, to)) return fail('invalid_status_transition', `a ${a.status} account cannot become ${to}`);
    const ledgerId = await ensureLedgerAccount(ctx, db, a);
    if (!ledgerId.ok) return ledgerId;
    const l = await ctx.ledger.setAccountStatus({ id: ledgerId.value, status: to, reason: reason.value, actor: inp.actor ?? '' });
    if (!l.ok) return l;
    const now = ctx.clock.now();
    const updated = await store.updateStatus(db, a.id, to, now);
    await changes.insertChange(db, ctx.nextId(), { entity: 'business_account', entityId: a.id.toString(), field: 'status', oldValue: a.status, newValue: to, reason: reason.value, actor: inp.actor ?? '' }, now);
    return ok({ ...updated, ledgerAccountId: ledgerId.value });
  });
  return changed.ok ? withBalance(ctx, changed.value) : changed;
}

export interface StatementInput {
  customerId: bigint;
  accountId: bigint;
  afterSeq?: bigint;
  from?: Date;
  to?: Date;
  limit: number;
}

/** The ledger statement of a customer's business account (running balance per posting). */
export async function statement(ctx: Ctx, inp: StatementInput): Promise<PartiesResult<StatementEntry[]>> {
  const a = await store.getAccount(ctx.pool, inp.accountId);
  if (!a || a.customerId !== inp.customerId) return fail('business_account_not_found', `no business account ${inp.accountId}`);
  const id = await ensureLedgerAccount(ctx, ctx.pool, a);
  if (!id.ok) return id;
  return ctx.ledger.statement({
    accountId: id.value, limit: inp.limit,
    ...(inp.afterSeq !== undefined ? { afterSeq: inp.afterSeq } : {}), ...(inp.from ? { from: inp.from } : {}), ...(inp.to ? { to: inp.to } : {}),
  });
}
