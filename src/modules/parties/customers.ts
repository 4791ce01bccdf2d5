/** Use cases for customers (客户): onboarding, lookup by identity document, status and real-name level. */
import { isUniqueViolation, withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import * as changes from './changes.store.js';
import { sealContext, type Ctx, type PartiesResult } from './context.js';
import * as store from './customers.store.js';
import { checkIdNumber, checkPhone, idTypesFor } from './domain/id-number.js';
import { canChangeCustomerStatus } from './domain/status.js';
import {
  CUSTOMER_KINDS, CUSTOMER_STATUSES, ID_TYPES, REAL_NAME_LEVELS,
  type Customer, type CustomerKind, type CustomerStatus, type IdType, type RealNameLevel,
} from './domain/types.js';
import { checkReason, checkText, isOneOf } from './domain/validate.js';

export interface CreateCustomerInput {
  kind: string;
  legalName: string;
  idType: string;
  idNumber: string;
  phone?: string;
  realNameLevel?: number;
}

export async function createCustomer(ctx: Ctx, inp: CreateCustomerInput): Promise<PartiesResult<Customer>> {
  if (!isOneOf(CUSTOMER_KINDS, inp.kind)) return fail('invalid_customer', `kind must be one of ${CUSTOMER_KINDS.join(', ')}`, { field: 'kind' });
  const kind: CustomerKind = inp.kind;
  const name = checkText('invalid_customer', 'legal_name', inp.legalName, 1, 200);
  if (!name.ok) return name;
  if (!isOneOf(ID_TYPES, inp.idType)) return fail('invalid_customer', `id_type must be one of ${ID_TYPES.join(', ')}`, { field: 'id_type' });
  const idType: IdType = inp.idType;
  if (!idTypesFor(kind).includes(idType)) {
    return fail('invalid_customer', `a customer of kind ${kind} is identified by ${idTypesFor(kind).join(' or ')}, not ${idType}`, { field: 'id_type' });
  }
  const doc = checkIdNumber(idType, inp.idNumber);
  if (!doc.ok) return doc;
  const phone = inp.phone === undefined ? undefined : checkPhone(inp.phone);
  if (phone && !phone.ok) return phone;
  const level = inp.realNameLevel ?? 0;
  if (!isOneOf(REAL_NAME_LEVELS, level)) return fail('invalid_customer', 'real_name_level must be 0, 1, 2 or 3', { field: 'real_name_level' });

  const id = ctx.nextId();
  const hash = ctx.vault.lookupHash(idType, doc.value.normalized);
  try {
    const c = await store.insertCustomer(ctx.pool, {
      id, kind, legalName: name.value, idType,
      idNumberSealed: ctx.vault.seal(doc.value.normalized, sealContext.idNumber(id)),
      idNumberHash: hash,
      idNumberMasked: doc.value.masked,
      phoneSealed: phone ? ctx.vault.seal(phone.value.normalized, sealContext.phone(id)) : null,
      phoneMasked: phone ? phone.value.masked : null,
      realNameLevel: level,
      now: ctx.clock.now(),
    });
    ctx.log?.info({ customerId: c.id.toString(), kind }, 'customer created');
    return ok(c);
  } catch (e) {
    if (!isUniqueViolation(e, 'customers_open_document')) throw e;
    const existing = await store.findOpenByDocument(ctx.pool, idType, hash);
    return fail('customer_exists', 'an open customer with this identity document already exists', existing ? { customer_id: existing.id.toString() } : undefined);
  }
}

export async function getCustomer(ctx: Ctx, id: bigint): Promise<PartiesResult<Customer>> {
  const c = await store.getCustomer(ctx.pool, id);
  return c ? ok(c) : fail('customer_not_found', `customer ${id} does not exist`);
}

/** Exact lookup by identity document, through the keyed hash: the number itself is never searched. */
export async function findByDocument(ctx: Ctx, inp: { idType: string; idNumber: string }): Promise<PartiesResult<Customer>> {
  if (!isOneOf(ID_TYPES, inp.idType)) return fail('invalid_customer', `id_type must be one of ${ID_TYPES.join(', ')}`, { field: 'id_type' });
  const doc = checkIdNumber(inp.idType, inp.idNumber);
  if (!doc.ok) return doc;
  const c = await store.findOpenByDocument(ctx.pool, inp.idType, ctx.vault.lookupHash(inp.idType, doc.value.normalized));
  return c ? ok(c) : fail('customer_not_found', 'no open customer has this identity document');
}

export function listCustomers(ctx: Ctx, f: store.CustomerFilter): Promise<Customer[]> {
  return store.listCustomers(ctx.pool, f);
}

export interface StatusChangeInput<S> {
  id: bigint;
  status: S;
  reason?: string;
  actor?: string;
}

/**
 * Freezing a customer stops new business for it (no new users, accounts, merchant profile or
 * credentials) and its merchant API access; money already in its accounts is frozen separately,
 * per account, because the ledger enforces freezes per account. Closing needs every business
 * account and the merchant profile closed first.
 */
export async function setCustomerStatus(ctx: Ctx, inp: StatusChangeInput<string>): Promise<PartiesResult<Customer>> {
  if (!isOneOf(CUSTOMER_STATUSES, inp.status)) return fail('invalid_customer', `status must be one of ${CUSTOMER_STATUSES.join(', ')}`, { field: 'status' });
  const to: CustomerStatus = inp.status;
  const reason = checkReason('invalid_customer', inp.reason);
  if (!reason.ok) return reason;
  return withTx(ctx.pool, async (db): Promise<PartiesResult<Customer>> => {
    const c = await store.getCustomer(db, inp.id, 'update');
    if (!c) return fail('customer_not_found', `customer ${inp.id} does not exist`);
    if (c.status === to) return ok(c);
    if (!canChangeCustomerStatus(c.status, to)) return fail('invalid_status_transition', `a ${c.status} customer cannot become ${to}`);
    if (to === 'closed') {
      const h = await store.openHoldings(db, c.id);
      if (h.openAccounts > 0 || h.openMerchant) {
        return fail('customer_not_closable', 'close the business accounts and the merchant profile of this customer first', { open_accounts: h.openAccounts, open_merchant: h.openMerchant });
      }
    }
    const now = ctx.clock.now();
    const updated = await store.updateStatus(db, c.id, to, now);
    await changes.insertChange(db, ctx.nextId(), { entity: 'customer', entityId: c.id.toString(), field: 'status', oldValue: c.status, newValue: to, reason: reason.value, actor: inp.actor ?? '' }, now);
    return ok(updated);
  });
}

export async function setRealNameLevel(ctx: Ctx, inp: { id: bigint; level: number; reason?: string; actor?: string }): Promise<PartiesResult<Customer>> {
  if (!isOneOf(REAL_NAME_LEVELS, inp.level)) return fail('invalid_customer', 'real_name_level must be 0, 1, 2 or 3', { field: 'real_name_level' });
  const level: RealNameLevel = inp.level;
  const reason = checkReason('invalid_customer', inp.reason);
  if (!reason.ok) return reason;
  return withTx(ctx.pool, async (db): Promise<PartiesResult<Customer>> => {
    const c = await store.getCustomer(db, inp.id, 'update');
    if (!c) return fail('customer_not_found', `customer ${inp.id} does not exist`);
    if (c.status === 'closed') return fail('customer_closed', `customer ${inp.id} is closed`);
    if (c.realNameLevel === level) return ok(c);
    const now = ctx.clock.now();
    const updated = await store.updateRealNameLevel(db, c.id, level, now);
    await changes.insertChange(db, ctx.nextId(), {
      entity: 'customer', entityId: c.id.toString(), field: 'real_name_level', oldValue: String(c.realNameLevel), newValue: String(level), reason: reason.value, actor: inp.actor ?? '',
    }, now);
    return ok(updated);
  });
}
