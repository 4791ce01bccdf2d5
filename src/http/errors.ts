/**
 * The only place that maps error codes to HTTP statuses (DESIGN.md §5). Modules return codes;
 * this table decides 400 (malformed), 401/403 (auth), 404, 409 (state conflict or idempotency
 * mismatch), 413, 422 (business rule), 429. A code missing here is a business-rule refusal (422).
 */
const STATUS: Record<string, number> = {};
const set = (status: number, codes: string[]): void => {
  for (const c of codes) STATUS[c] = status;
};

set(400, [
  'invalid_request', 'malformed_json', 'invalid_amount', 'amount_must_be_positive', 'amount_too_large', 'unknown_currency',
  'invalid_transfer', 'idempotency_key_required', 'accounts_must_be_different', 'pending_id_required', 'pending_id_not_allowed',
  'timeout_not_allowed', 'linked_event_chain_open', 'invalid_account', 'invalid_limit', 'invalid_subject', 'invalid_query',
  'invalid_date', 'invalid_cursor', 'invalid_idempotency_key', 'invalid_id', 'unsupported_media_type', 'invalid_text',
]);
set(401, ['unauthorized', 'missing_signature', 'invalid_signature', 'unknown_key', 'signature_expired', 'replayed_nonce']);
set(403, ['forbidden', 'key_disabled', 'merchant_disabled']);
set(404, ['route_not_found', 'account_not_found', 'transfer_not_found', 'not_found']);
set(409, [
  'idempotency_key_reused', 'idempotency_key_in_progress', 'account_ref_exists_with_different_fields', 'invalid_status_transition',
  'exists_with_different_kind', 'exists_with_different_debit_account_id', 'exists_with_different_credit_account_id',
  'exists_with_different_amount', 'exists_with_different_currency', 'exists_with_different_pending_id', 'exists_with_different_code',
  'exists_with_different_timeout', 'exists_with_different_reverses_id', 'pending_transfer_already_posted',
  'pending_transfer_already_voided', 'pending_transfer_expired', 'subject_exists', 'account_not_empty', 'limit_below_current_usage',
]);
// Records named in a request body (not the URL) that do not exist: the request is understood but
// cannot be carried out, which is a business-rule refusal rather than a missing resource.
set(422, ['debit_account_not_found', 'credit_account_not_found', 'pending_transfer_not_found', 'reversed_transfer_not_found']);
set(413, ['payload_too_large', 'request_too_large']);
set(429, ['rate_limited']);
set(503, ['unavailable']);

/** Adds codes of a module (called by route files for their own conflict/not-found codes). */
export function registerStatuses(status: number, codes: readonly string[]): void {
  set(status, [...codes]);
}

export function statusFor(code: string): number {
  return STATUS[code] ?? (code.endsWith('_not_found') ? 404 : 422);
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}
