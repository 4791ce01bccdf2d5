/** Result codes of the cards module (policy and domain codes pass through unchanged). */
import type { LedgerResult } from '../ledger/index.js';
import type { CardNumberError } from './domain/card-number.js';
import type { PurseError } from './domain/ecash.js';
import type { TransitionError } from './domain/lifecycle.js';
import type { PinCheckError, PinFormatError } from './domain/pin.js';
import type { BalanceLimitError, PurchaseError, RedeemError, ResidualRefundError, ValidityError } from './domain/policy.js';

export type LedgerCode = Extract<LedgerResult<unknown>, { ok: false }>['code'];

export type CardsErrorCode =
  | 'invalid_product'
  | 'product_exists_with_different_fields'
  | 'product_not_found'
  | 'product_suspended'
  | 'merchant_not_found'
  | 'merchant_not_active'
  | 'invalid_request'
  | 'batch_too_large'
  | 'card_not_found'
  | 'card_not_active'
  | 'card_expired'
  | 'card_terminated'
  | 'card_not_in_stock'
  | 'card_not_rechargeable'
  | 'merchant_not_accepted'
  | 'insufficient_balance'
  | 'pin_required'
  | 'pin_incorrect'
  | 'pin_locked'
  | 'transaction_not_found'
  | 'idempotency_key_reused'
  | 'not_voidable'
  | 'refund_exceeds_remaining'
  | 'holder_required'
  | 'invalid_amount'
  | 'ledger_rejected'
  | 'no_expired_bonus'
  | 'card_operation_pending'
  | 'holder_not_found'
  | 'holder_not_verified'
  | 'risk_rejected'
  | 'policy_override_looser'
  | 'invalid_policy_override'
  /** A capture of a hold that is no longer held: released, expired, declined or already captured. */
  | 'hold_not_active'
  /** A release of a hold that was captured (refund the capture instead). */
  | 'hold_captured'
  /** A refund naming a hold that was not captured. */
  | 'hold_not_captured'
  /** A replacement of a card whose money is partly held: capture or release the holds first (or let them expire). */
  | 'card_has_active_holds'
  | CardNumberError
  | PurseError
  | TransitionError
  | PinFormatError
  | PinCheckError
  | BalanceLimitError
  | PurchaseError
  | ValidityError
  | RedeemError
  | ResidualRefundError
  /** Ledger refusals that have no card-specific name pass through under the ledger's own code. */
  | LedgerCode;
