/**
 * Result codes of the parties module, grouped by what they mean so that http/ can map each group
 * to one status (malformed input, not found, state conflict, business rule). Codes are stable:
 * clients branch on them.
 */
import type { LedgerResult } from '../ledger/index.js';

/** The input itself is wrong; nothing was looked up or written. */
export const PARTIES_INPUT_ERRORS = [
  'invalid_customer',
  'invalid_id_number',
  'invalid_phone',
  'invalid_relationship',
  'invalid_user',
  'invalid_login_name',
  'invalid_business_account',
  'invalid_merchant',
  'invalid_domain',
  'invalid_settlement_cycle',
  'invalid_public_key',
  'invalid_credential',
  'invalid_operator_token',
] as const;

export const PARTIES_NOT_FOUND_ERRORS = [
  'customer_not_found',
  'relationship_not_found',
  'user_not_found',
  'business_account_not_found',
  'merchant_not_found',
  'credential_not_found',
  'operator_token_not_found',
] as const;

/** The request conflicts with the current state of a record (or with another record). */
export const PARTIES_CONFLICT_ERRORS = [
  // Another open customer already has this identity document.
  'customer_exists',
  // The customer is frozen or closed, so nothing new may be opened for it.
  'customer_not_active',
  'customer_closed',
  // Closing a customer needs all its business accounts and its merchant closed first.
  'customer_not_closable',
  'relationship_exists',
  // The parent_organization would make an organization its own ancestor.
  'relationship_cycle',
  'parent_already_set',
  'login_name_taken',
  // An open merchant_settlement account in this currency already exists for the customer.
  'business_account_exists',
  // The external_ref was used before for an account of another kind or currency.
  'business_account_ref_conflict',
  'merchant_exists',
  'merchant_closed',
  'credential_limit_reached',
  'invalid_status_transition',
] as const;

/** The input is well-formed but a business rule refuses it. */
export const PARTIES_RULE_ERRORS = [
  // e.g. a merchant profile for an individual, or a parent organization that is a person.
  'customer_kind_not_allowed',
  // Beneficial owners' shares of one organization would exceed 100%.
  'share_exceeds_total',
  // A merchant can only be activated at real-name level 2 or above.
  'real_name_level_too_low',
] as const;

export type PartiesErrorCode =
  | (typeof PARTIES_INPUT_ERRORS)[number]
  | (typeof PARTIES_NOT_FOUND_ERRORS)[number]
  | (typeof PARTIES_CONFLICT_ERRORS)[number]
  | (typeof PARTIES_RULE_ERRORS)[number];

/** Ledger refusals (e.g. account_not_empty when closing an account) are passed through unchanged. */
export type LedgerErrorCode = Extract<LedgerResult<unknown>, { ok: false }>['code'];
