/** Wire schemas and mappers for the parties routes (customers, users, accounts, merchants, credentials, operator tokens). */
import { Type } from 'typebox';
import type { StatementEntry } from '../../modules/ledger/index.js';
import type { AccountWithBalance, Credential, Customer, Merchant, OperatorToken, Relationship, User } from '../../modules/parties/index.js';
import { amt, Currency, IdString, iso, Timestamp } from '../dto.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Reason = Type.Optional(Type.String({ maxLength: 500, description: 'why; recorded in the change log' }));

export const CustomerKindSchema = Type.Enum(['individual', 'individual_business', 'organization']);
export const IdTypeSchema = Type.Enum(['resident_id', 'passport', 'uscc']);
export const CustomerStatusSchema = Type.Enum(['active', 'frozen', 'closed']);
export const RelationshipKindSchema = Type.Enum(['parent_organization', 'guarantor', 'beneficial_owner']);
export const UserRoleSchema = Type.Enum(['owner', 'admin', 'finance', 'operator', 'viewer']);
export const AccountKindSchema = Type.Enum(['balance', 'merchant_settlement', 'deposit']);
export const AccountStatusSchema = Type.Enum(['active', 'frozen', 'closed']);
export const MerchantStatusSchema = Type.Enum(['pending', 'active', 'suspended', 'closed']);
export const AlgSchema = Type.Enum(['HMAC-SHA256', 'RSA-SHA256']);
export const OperatorRoleSchema = Type.Enum(['admin', 'operator', 'viewer']);

// ---- customers -------------------------------------------------------------------------------

export const CreateCustomerBody = Type.Object(
  {
    kind: CustomerKindSchema,
    legal_name: Type.String({ minLength: 1, maxLength: 200 }),
    id_type: IdTypeSchema,
    id_number: Type.String({ minLength: 1, maxLength: 64, description: 'stored sealed; only a masked form is ever returned' }),
    phone: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'mainland mobile or E.164; returned masked' })),
    real_name_level: Type.Optional(Type.Integer({ minimum: 0, maximum: 3, description: '0 none, 1 basic, 2 verified ID, 3 verified ID + bank card or face' })),
  },
  { additionalProperties: false },
);

export const DocumentBody = Type.Object({ id_type: IdTypeSchema, id_number: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const CustomerSchema = Type.Object({
  id: IdString,
  kind: CustomerKindSchema,
  legal_name: Type.String(),
  id_type: IdTypeSchema,
  id_number_masked: Type.String(),
  phone_masked: Nullable(Type.String()),
  real_name_level: Type.Integer(),
  status: CustomerStatusSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function customerDto(c: Customer) {
  return {
    id: c.id.toString(), kind: c.kind, legal_name: c.legalName, id_type: c.idType, id_number_masked: c.idNumberMasked, phone_masked: c.phoneMasked,
    real_name_level: c.realNameLevel, status: c.status, created_at: iso(c.createdAt), updated_at: iso(c.updatedAt),
  };
}

export const CustomerStatusBody = Type.Object({ status: CustomerStatusSchema, reason: Reason }, { additionalProperties: false });
export const RealNameLevelBody = Type.Object({ level: Type.Integer({ minimum: 0, maximum: 3 }), reason: Reason }, { additionalProperties: false });

export const CreateRelationshipBody = Type.Object(
  {
    related_customer_id: IdString,
    kind: RelationshipKindSchema,
    share_bp: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'beneficial_owner only: share in basis points' })),
  },
  { additionalProperties: false },
);

export const RelationshipSchema = Type.Object({
  id: IdString,
  customer_id: IdString,
  related_customer_id: IdString,
  kind: RelationshipKindSchema,
  share_bp: Nullable(Type.Integer()),
  created_at: Timestamp,
});

export function relationshipDto(r: Relationship) {
  return { id: r.id.toString(), customer_id: r.customerId.toString(), related_customer_id: r.relatedCustomerId.toString(), kind: r.kind, share_bp: r.shareBp, created_at: iso(r.createdAt) };
}

// ---- users -----------------------------------------------------------------------------------

export const CreateUserBody = Type.Object(
  {
    login_name: Type.String({ minLength: 3, maxLength: 64, description: 'unique platform-wide, case-insensitive' }),
    display_name: Type.Optional(Type.String({ maxLength: 100 })),
    roles: Type.Array(UserRoleSchema, { minItems: 1, maxItems: 5 }),
  },
  { additionalProperties: false },
);

export const UserSchema = Type.Object({
  id: IdString,
  customer_id: IdString,
  login_name: Type.String(),
  display_name: Type.String(),
  roles: Type.Array(UserRoleSchema),
  status: Type.Enum(['active', 'disabled']),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function userDto(u: User) {
  return {
    id: u.id.toString(), customer_id: u.customerId.toString(), login_name: u.loginName, display_name: u.displayName, roles: u.roles, status: u.status,
    created_at: iso(u.createdAt), updated_at: iso(u.updatedAt),
  };
}

export const UserStatusBody = Type.Object({ status: Type.Enum(['active', 'disabled']), reason: Reason }, { additionalProperties: false });

// ---- business accounts -----------------------------------------------------------------------

export const OpenAccountBody = Type.Object(
  {
    kind: AccountKindSchema,
    currency: Type.Optional(Currency),
    external_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'your reference; opening again with it returns the same account' })),
  },
  { additionalProperties: false },
);

const Balances = Type.Object({
  posted: Type.Integer({ description: 'posted balance in minor units' }),
  available: Type.Integer({ description: 'what can be spent now, holds counted' }),
  debits_pending: Type.Integer(),
  credits_pending: Type.Integer(),
});

function balancesDto(v: AccountWithBalance) {
  const b = v.balances;
  return { posted: amt(b.postedMinor), available: amt(b.availableMinor), debits_pending: amt(b.debitsPendingMinor), credits_pending: amt(b.creditsPendingMinor) };
}

export const BusinessAccountSchema = Type.Object({
  id: IdString,
  customer_id: IdString,
  kind: AccountKindSchema,
  currency: Currency,
  status: AccountStatusSchema,
  external_ref: Nullable(Type.String()),
  ledger_account_id: IdString,
  ledger_status: Type.String(),
  balances: Balances,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function businessAccountDto(v: AccountWithBalance) {
  const a = v.account;
  return {
    id: a.id.toString(), customer_id: a.customerId.toString(), kind: a.kind, currency: a.currency, status: a.status, external_ref: a.externalRef,
    ledger_account_id: a.ledgerAccountId.toString(), ledger_status: v.ledgerStatus, balances: balancesDto(v), created_at: iso(a.createdAt), updated_at: iso(a.updatedAt),
  };
}

export const AccountStatusBody = Type.Object({ status: AccountStatusSchema, reason: Reason }, { additionalProperties: false });

/** What a merchant sees of its own accounts: no internal ledger ids. */
export const MerchantAccountSchema = Type.Object({
  id: IdString,
  kind: AccountKindSchema,
  currency: Currency,
  status: AccountStatusSchema,
  balances: Balances,
  created_at: Timestamp,
});

export function merchantAccountDto(v: AccountWithBalance) {
  const a = v.account;
  return { id: a.id.toString(), kind: a.kind, currency: a.currency, status: a.status, balances: balancesDto(v), created_at: iso(a.createdAt) };
}

/** A merchant's statement line: the movement on its account only, not the platform accounts on the other side. */
export const MerchantStatementEntrySchema = Type.Object({
  seq: Type.String(),
  transfer_id: IdString,
  kind: Type.String({ description: 'posted, pending (a hold), post_pending, void_pending, expire_pending' }),
  side: Type.Enum(['debit', 'credit'], { description: 'credit adds to the balance, debit takes from it' }),
  amount: Type.Integer(),
  currency: Currency,
  code: Type.String(),
  description: Type.String(),
  balance_after: Type.Integer(),
  created_at: Timestamp,
});

export function merchantStatementDto(e: StatementEntry) {
  const t = e.transfer;
  return {
    seq: (t.seq ?? 0n).toString(), transfer_id: t.id.toString(), kind: t.kind, side: e.side, amount: amt(t.amount), currency: t.currency, code: t.code,
    description: t.description, balance_after: amt(e.balanceAfter), created_at: iso(t.createdAt),
  };
}

// ---- merchants -------------------------------------------------------------------------------

export const CreateMerchantBody = Type.Object(
  {
    customer_id: IdString,
    display_name: Type.String({ minLength: 1, maxLength: 64 }),
    notify_domains: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 10, description: 'hosts (and their subdomains) notifications may be sent to' })),
    mcc: Type.String({ pattern: '^[0-9]{4}$', description: '4-digit merchant category code' }),
    fee_plan_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    settlement_cycle: Type.String({ maxLength: 8, description: 'T+0 .. T+30 or D+1' }),
  },
  { additionalProperties: false },
);

export const MerchantSchema = Type.Object({
  id: IdString,
  merchant_no: Type.String(),
  customer_id: IdString,
  display_name: Type.String(),
  notify_domains: Type.Array(Type.String()),
  mcc: Type.String(),
  fee_plan_ref: Nullable(Type.String()),
  settlement_cycle: Type.String(),
  settlement_account_id: IdString,
  status: MerchantStatusSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function merchantDto(m: Merchant) {
  return {
    id: m.id.toString(), merchant_no: m.merchantNo, customer_id: m.customerId.toString(), display_name: m.displayName, notify_domains: m.notifyDomains,
    mcc: m.mcc, fee_plan_ref: m.feePlanRef, settlement_cycle: m.settlementCycle, settlement_account_id: m.settlementAccountId.toString(), status: m.status,
    created_at: iso(m.createdAt), updated_at: iso(m.updatedAt),
  };
}

export const MerchantStatusBody = Type.Object({ status: MerchantStatusSchema, reason: Reason }, { additionalProperties: false });

// ---- credentials and tokens ------------------------------------------------------------------

export const CreateCredentialBody = Type.Object(
  {
    alg: AlgSchema,
    public_key_pem: Type.Optional(Type.String({ maxLength: 16384, description: 'RSA-SHA256 only: your RSA public key (>= 2048 bits), PEM' })),
    name: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

const credentialProps = {
  key_id: Type.String(),
  merchant_id: IdString,
  alg: AlgSchema,
  name: Type.String(),
  status: Type.Enum(['active', 'disabled']),
  public_key_pem: Nullable(Type.String()),
  public_key_bits: Nullable(Type.Integer()),
  created_at: Timestamp,
  disabled_at: Nullable(Timestamp),
};

export const CredentialSchema = Type.Object(credentialProps);
export const CreatedCredentialSchema = Type.Object({
  ...credentialProps,
  secret: Nullable(Type.String({ description: 'HMAC-SHA256 only, shown in this response once; null for RSA keys and in replayed responses' })),
});

export function credentialDto(c: Credential) {
  return {
    key_id: c.keyId, merchant_id: c.merchantId.toString(), alg: c.alg, name: c.name, status: c.status, public_key_pem: c.publicKeyPem,
    public_key_bits: c.publicKeyBits, created_at: iso(c.createdAt), disabled_at: c.disabledAt ? iso(c.disabledAt) : null,
  };
}

export const CreateOperatorTokenBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), role: OperatorRoleSchema }, { additionalProperties: false });

const tokenProps = { id: IdString, name: Type.String(), role: OperatorRoleSchema, created_by: Type.String(), created_at: Timestamp, revoked_at: Nullable(Timestamp) };
export const OperatorTokenSchema = Type.Object(tokenProps);
export const CreatedOperatorTokenSchema = Type.Object({
  ...tokenProps,
  token: Nullable(Type.String({ description: 'the bearer token, shown in this response once; null in replayed responses' })),
});

export function operatorTokenDto(t: OperatorToken) {
  return { id: t.id.toString(), name: t.name, role: t.role, created_by: t.createdBy, created_at: iso(t.createdAt), revoked_at: t.revokedAt ? iso(t.revokedAt) : null };
}

export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });
