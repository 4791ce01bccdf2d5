/**
 * Ledger result codes. A rejected transfer gets exactly one code; the checks run in the order of
 * TRANSFER_CHECK_ORDER (documented in docs/ledger.md), so the same request always gets the same code.
 */
export const TRANSFER_CHECK_ORDER = [
  // 1. Input (validate.ts): nothing is looked up yet.
  'invalid_transfer',
  'idempotency_key_required',
  'amount_must_be_positive',
  'amount_too_large',
  'unknown_currency',
  'accounts_must_be_different',
  'pending_id_required',
  'pending_id_not_allowed',
  'timeout_not_allowed',
  'linked_event_chain_open',
  'linked_event_failed',
  // 2. Idempotency: the key was used before.
  'exists_with_different_kind',
  'exists_with_different_debit_account_id',
  'exists_with_different_credit_account_id',
  'exists_with_different_amount',
  'exists_with_different_currency',
  'exists_with_different_pending_id',
  'exists_with_different_code',
  'exists_with_different_timeout',
  'exists_with_different_reverses_id',
  // 3. Pending transfer resolution (post / void / expire).
  'pending_transfer_not_found',
  'pending_transfer_not_pending',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'pending_transfer_has_different_debit_account_id',
  'pending_transfer_has_different_credit_account_id',
  'pending_transfer_has_different_currency',
  'exceeds_pending_transfer_amount',
  'pending_transfer_has_different_amount',
  // 4. Accounts.
  'debit_account_not_found',
  'credit_account_not_found',
  'currency_mismatch',
  'debit_account_closed',
  'credit_account_closed',
  'debit_account_frozen',
  'credit_account_frozen',
  // 5. Reversals.
  'reversed_transfer_not_found',
  'reversal_accounts_mismatch',
  'exceeds_reversible_amount',
  // 6. Balance limits (the totals' range first, then the account's own limit).
  'overflows_debits',
  'overflows_credits',
  'insufficient_funds',
  'exceeds_credit_limit',
  'exceeds_debits',
] as const;

export type TransferErrorCode = (typeof TRANSFER_CHECK_ORDER)[number];

export const LEDGER_ERROR_CODES = [
  ...TRANSFER_CHECK_ORDER,
  'account_not_found',
  'account_ref_exists_with_different_fields',
  'unknown_subject',
  'subject_type_mismatch',
  'subject_not_leaf',
  'subject_exists',
  'invalid_subject',
  'invalid_account',
  'invalid_status_transition',
  'account_not_empty',
  'invalid_limit',
  'limit_below_current_usage',
  'transfer_not_found',
  'request_too_large',
  'invalid_query',
  'business_day_not_closed',
  'invalid_date',
  // A business day would be closed in a different time zone than the days before it.
  'time_zone_mismatch',
] as const;

export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];
