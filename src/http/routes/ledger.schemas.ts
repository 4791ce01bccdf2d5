/** Wire schemas and mappers for the ledger routes. */
import { Type } from 'typebox';
import type { Account, StatementEntry, Transfer, TransferOutcome, TransferRequest } from '../../modules/ledger/index.js';
import { availableBalance, postedBalance } from '../../modules/ledger/index.js';
import { Amount, Currency, IdString, Metadata, Timestamp, amt, iso, optId } from '../dto.js';

export const AccountTypeSchema = Type.Enum(['asset', 'liability', 'equity', 'income', 'expense']);
export const AccountStatusSchema = Type.Enum(['active', 'debit_frozen', 'credit_frozen', 'frozen', 'closed']);

export const AccountSchema = Type.Object({
  id: IdString,
  ref: Type.Union([Type.String(), Type.Null()]),
  type: AccountTypeSchema,
  normal_balance: Type.Union([Type.Literal('debit'), Type.Literal('credit')]),
  currency: Currency,
  subject_code: Type.String(),
  owner_id: Type.Union([IdString, Type.Null()]),
  name: Type.String(),
  status: AccountStatusSchema,
  limits: Type.Object({ debits_must_not_exceed_credits: Type.Boolean(), credits_must_not_exceed_debits: Type.Boolean(), credit_limit: Type.Integer() }),
  balances: Type.Object({
    debits_posted: Type.Integer(),
    credits_posted: Type.Integer(),
    debits_pending: Type.Integer(),
    credits_pending: Type.Integer(),
    posted: Type.Integer({ description: 'posted balance in the normal direction' }),
    available: Type.Integer({ description: 'what can still be used, holds and credit limit counted' }),
  }),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function accountDto(a: Account) {
  return {
    id: a.id.toString(),
    ref: a.ref,
    type: a.type,
    normal_balance: a.type === 'asset' || a.type === 'expense' ? ('debit' as const) : ('credit' as const),
    currency: a.currency,
    subject_code: a.subjectCode,
    owner_id: a.ownerId?.toString() ?? null,
    name: a.name,
    status: a.status,
    limits: { debits_must_not_exceed_credits: a.debitsMustNotExceedCredits, credits_must_not_exceed_debits: a.creditsMustNotExceedDebits, credit_limit: amt(a.creditLimit) },
    balances: {
      debits_posted: amt(a.debitsPosted),
      credits_posted: amt(a.creditsPosted),
      debits_pending: amt(a.debitsPending),
      credits_pending: amt(a.creditsPending),
      posted: amt(postedBalance(a)),
      available: amt(availableBalance(a)),
    },
    metadata: a.metadata,
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
  };
}

export const CreateAccountBody = Type.Object(
  {
    type: AccountTypeSchema,
    currency: Currency,
    subject_code: Type.String({ minLength: 4, maxLength: 16 }),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    owner_id: Type.Optional(IdString),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    debits_must_not_exceed_credits: Type.Optional(Type.Boolean()),
    credits_must_not_exceed_debits: Type.Optional(Type.Boolean()),
    credit_limit: Type.Optional(Type.Integer({ minimum: 0 })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const TransferKindSchema = Type.Enum(['posted', 'pending', 'post_pending', 'void_pending']);

export const TransferBody = Type.Object(
  {
    idempotency_key: Type.String({ minLength: 1, maxLength: 128, description: 'unique per transfer; a retry with the same key returns the original' }),
    kind: Type.Optional(TransferKindSchema),
    debit_account_id: Type.Optional(IdString),
    credit_account_id: Type.Optional(IdString),
    amount: Type.Optional(Amount),
    currency: Type.Optional(Currency),
    pending_id: Type.Optional(IdString),
    timeout_seconds: Type.Optional(Type.Integer({ minimum: 1 })),
    reverses_id: Type.Optional(IdString),
    code: Type.Optional(Type.String({ maxLength: 64 })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    metadata: Type.Optional(Metadata),
    linked: Type.Optional(Type.Boolean({ description: 'linked with the next transfer of the batch: all succeed or none' })),
  },
  { additionalProperties: false },
);

export type TransferBodyT = {
  idempotency_key: string;
  kind?: string;
  debit_account_id?: string;
  credit_account_id?: string;
  amount?: number;
  currency?: string;
  pending_id?: string;
  timeout_seconds?: number;
  reverses_id?: string;
  code?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  linked?: boolean;
};

/** Amounts arrive as JSON integers; a negative or zero amount is kept so the ledger names it. */
export function toTransferRequest(b: TransferBodyT): TransferRequest {
  const r: TransferRequest = { idempotencyKey: b.idempotency_key };
  if (b.kind !== undefined) r.kind = b.kind as TransferRequest['kind'];
  const d = optId(b.debit_account_id, 'debit_account_id');
  const c = optId(b.credit_account_id, 'credit_account_id');
  const p = optId(b.pending_id, 'pending_id');
  const rv = optId(b.reverses_id, 'reverses_id');
  if (d !== undefined) r.debitAccountId = d;
  if (c !== undefined) r.creditAccountId = c;
  if (p !== undefined) r.pendingId = p;
  if (rv !== undefined) r.reversesId = rv;
  if (b.amount !== undefined) r.amount = BigInt(b.amount);
  if (b.currency !== undefined) r.currency = b.currency;
  if (b.timeout_seconds !== undefined) r.timeoutSeconds = b.timeout_seconds;
  if (b.code !== undefined) r.code = b.code;
  if (b.description !== undefined) r.description = b.description;
  if (b.metadata !== undefined) r.metadata = b.metadata;
  if (b.linked !== undefined) r.linked = b.linked;
  return r;
}

export const TransferSchema = Type.Object({
  id: IdString,
  idempotency_key: Type.String(),
  kind: Type.String(),
  debit_account_id: IdString,
  credit_account_id: IdString,
  amount: Type.Integer(),
  currency: Currency,
  code: Type.String(),
  pending_id: Type.Union([IdString, Type.Null()]),
  pending_status: Type.Union([Type.String(), Type.Null()]),
  posted_amount: Type.Union([Type.Integer(), Type.Null()]),
  timeout_at: Type.Union([Timestamp, Type.Null()]),
  reverses_id: Type.Union([IdString, Type.Null()]),
  reversed_amount: Type.Integer(),
  chain_id: Type.Union([IdString, Type.Null()]),
  description: Type.String(),
  metadata: Metadata,
  debit_balance_after: Type.Integer(),
  credit_balance_after: Type.Integer(),
  created_at: Timestamp,
});

export function transferDto(t: Transfer) {
  return {
    id: t.id.toString(),
    idempotency_key: t.idempotencyKey,
    kind: t.kind,
    debit_account_id: t.debitAccountId.toString(),
    credit_account_id: t.creditAccountId.toString(),
    amount: amt(t.amount),
    currency: t.currency,
    code: t.code,
    pending_id: t.pendingId?.toString() ?? null,
    pending_status: t.pendingStatus,
    posted_amount: t.postedAmount === null ? null : amt(t.postedAmount),
    timeout_at: t.timeoutAt ? iso(t.timeoutAt) : null,
    reverses_id: t.reversesId?.toString() ?? null,
    reversed_amount: amt(t.reversedAmount),
    chain_id: t.chainId?.toString() ?? null,
    description: t.description,
    metadata: t.metadata,
    debit_balance_after: amt(t.debitBalanceAfter),
    credit_balance_after: amt(t.creditBalanceAfter),
    created_at: iso(t.createdAt),
  };
}

export const OutcomeSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), existed: Type.Boolean(), transfer: TransferSchema }),
  Type.Object({ ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
]);

export function outcomeDto(o: TransferOutcome) {
  return o.ok ? { ok: true as const, existed: o.existed, transfer: transferDto(o.transfer) } : { ok: false as const, error: { code: o.code, message: o.message } };
}

export const StatementEntrySchema = Type.Object({
  seq: Type.String(),
  side: Type.Union([Type.Literal('debit'), Type.Literal('credit')]),
  balance_after: Type.Integer(),
  transfer: TransferSchema,
});

export function statementDto(e: StatementEntry) {
  return { seq: (e.transfer.seq ?? 0n).toString(), side: e.side, balance_after: amt(e.balanceAfter), transfer: transferDto(e.transfer) };
}
