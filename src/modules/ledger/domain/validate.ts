/**
 * Input checks for transfer requests: everything that can be decided without reading the
 * database. A request that fails here never reaches the batcher and writes nothing.
 */
import { checkCurrency, MAX_AMOUNT_MINOR } from '../../../kernel/money.js';
import { isStorableDeep, isStorableText } from '../../../kernel/text.js';
import type { TransferErrorCode } from '../errors.js';
import type { TransferInput } from './types.js';

/** What callers send; the public kinds exclude the internal `expire_pending`. */
export interface TransferRequest {
  idempotencyKey: string;
  kind?: 'posted' | 'pending' | 'post_pending' | 'void_pending';
  debitAccountId?: bigint;
  creditAccountId?: bigint;
  amount?: bigint;
  currency?: string;
  pendingId?: bigint;
  timeoutSeconds?: number;
  reversesId?: bigint;
  code?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  linked?: boolean;
}

export type InputCheck = { ok: true; input: TransferInput } | { ok: false; code: TransferErrorCode; message: string };

/** Keys the ledger writes itself (hold expiry) live under this prefix, which clients may not use. */
export const SYSTEM_KEY_PREFIX = 'sys:';

export const MAX_TIMEOUT_SECONDS = 366 * 24 * 3600;
const KEY_RE = /^[\x21-\x7e]{1,128}$/;
const CODE_RE = /^[a-z][a-z0-9_.:-]{0,63}$/;

function bad(code: TransferErrorCode, message: string): InputCheck {
  return { ok: false, code, message };
}

export function validateTransfer(r: TransferRequest): InputCheck {
  if (typeof r.idempotencyKey !== 'string' || r.idempotencyKey.length === 0) return bad('idempotency_key_required', 'every transfer needs an idempotency key');
  if (!KEY_RE.test(r.idempotencyKey)) return bad('invalid_transfer', 'idempotency key must be 1-128 printable ASCII characters without spaces');
  if (r.idempotencyKey.startsWith(SYSTEM_KEY_PREFIX)) return bad('invalid_transfer', `idempotency keys starting with "${SYSTEM_KEY_PREFIX}" are reserved for the ledger itself`);
  const kind = r.kind ?? 'posted';
  const code = r.code ?? 'transfer';
  if (!CODE_RE.test(code)) return bad('invalid_transfer', 'code must be a lower-case identifier of at most 64 characters');
  const description = r.description ?? '';
  if (description.length > 500) return bad('invalid_transfer', 'description is longer than 500 characters');
  const metadata = r.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata) || JSON.stringify(metadata).length > 4096) {
    return bad('invalid_transfer', 'metadata must be a JSON object of at most 4 KiB');
  }
  if (!isStorableText(description) || !isStorableDeep(metadata)) {
    return bad('invalid_transfer', 'description and metadata must not contain NUL characters or unpaired surrogates');
  }
  if (r.amount !== undefined) {
    if (r.amount <= 0n) return bad('amount_must_be_positive', 'amount must be greater than zero');
    if (r.amount > MAX_AMOUNT_MINOR) return bad('amount_too_large', 'amount exceeds the safe integer range');
  }
  if (r.currency !== undefined && !checkCurrency(r.currency).ok) return bad('unknown_currency', `unknown currency ${r.currency}`);
  const base = { idempotencyKey: r.idempotencyKey, kind, code, description, metadata, linked: r.linked === true } as const;
  switch (kind) {
    case 'posted':
    case 'pending': {
      if (r.debitAccountId === undefined || r.creditAccountId === undefined) return bad('invalid_transfer', 'debit_account_id and credit_account_id are required');
      if (r.amount === undefined) return bad('amount_must_be_positive', 'amount is required');
      if (r.currency === undefined) return bad('unknown_currency', 'currency is required');
      if (r.debitAccountId === r.creditAccountId) return bad('accounts_must_be_different', 'debit and credit accounts must differ');
      if (r.pendingId !== undefined) return bad('pending_id_not_allowed', 'pending_id is only for post_pending and void_pending');
      if (kind === 'posted' && r.timeoutSeconds !== undefined) return bad('timeout_not_allowed', 'only pending transfers have a timeout');
      if (r.timeoutSeconds !== undefined && (!Number.isInteger(r.timeoutSeconds) || r.timeoutSeconds < 1 || r.timeoutSeconds > MAX_TIMEOUT_SECONDS)) {
        return bad('invalid_transfer', `timeout_seconds must be an integer in [1, ${MAX_TIMEOUT_SECONDS}]`);
      }
      const input: TransferInput = { ...base, debitAccountId: r.debitAccountId, creditAccountId: r.creditAccountId, amount: r.amount, currency: r.currency };
      if (r.timeoutSeconds !== undefined) input.timeoutSeconds = r.timeoutSeconds;
      if (r.reversesId !== undefined) input.reversesId = r.reversesId;
      return { ok: true, input };
    }
    case 'post_pending':
    case 'void_pending': {
      if (r.pendingId === undefined) return bad('pending_id_required', `${kind} needs pending_id`);
      if (r.timeoutSeconds !== undefined) return bad('timeout_not_allowed', 'only pending transfers have a timeout');
      if (r.reversesId !== undefined) return bad('invalid_transfer', 'reverses_id is only for posted transfers');
      if (r.debitAccountId !== undefined && r.debitAccountId === r.creditAccountId) return bad('accounts_must_be_different', 'debit and credit accounts must differ');
      const input: TransferInput = { ...base, pendingId: r.pendingId };
      if (r.debitAccountId !== undefined) input.debitAccountId = r.debitAccountId;
      if (r.creditAccountId !== undefined) input.creditAccountId = r.creditAccountId;
      if (r.amount !== undefined) input.amount = r.amount;
      if (r.currency !== undefined) input.currency = r.currency;
      return { ok: true, input };
    }
    default:
      return bad('invalid_transfer', `unknown kind ${String(kind)}`);
  }
}

/**
 * Validates a request of transfers. Each gets its own outcome; a linked chain fails as a whole
 * when one member is invalid, and a chain left open at the end of the request is refused.
 */
export function validateRequest(reqs: readonly TransferRequest[]): InputCheck[] {
  const out = reqs.map(validateTransfer);
  let start = 0;
  for (let i = 0; i < reqs.length; i++) {
    const linked = reqs[i]!.linked === true;
    if (linked && i < reqs.length - 1) continue;
    if (linked) {
      // The request ends inside a chain.
      for (let k = start; k <= i; k++) out[k] = bad('linked_event_chain_open', 'the last transfer of the request is linked to a transfer that does not exist');
    } else if (i > start) {
      const failed = out.slice(start, i + 1).findIndex((c) => !c.ok);
      if (failed >= 0) {
        for (let k = start; k <= i; k++) if (k !== start + failed) out[k] = bad('linked_event_failed', `linked transfer ${failed + 1} of the chain is invalid`);
      }
    }
    start = i + 1;
  }
  return out;
}
