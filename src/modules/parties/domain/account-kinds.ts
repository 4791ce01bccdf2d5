/**
 * The kinds of business account and the ledger account behind each. Every kind is money the
 * platform owes a customer, so every one is a liability that may not be overdrawn (its debits
 * may not exceed its credits): a customer can never spend more than was paid in.
 *
 *   balance              stored-value balance (客户账户余额, subject 225103) of any customer.
 *   merchant_settlement  money owed to a merchant until it is settled (应付商户款, subject 225101);
 *                        one open account per currency, created with the merchant.
 *   deposit              a security deposit (保证金) held for a customer, booked as another payable
 *                        (其他应付款, subject 2241) because it is not available for spending.
 */
import { assertNever } from '../../../kernel/errors.js';
import type { BusinessAccountKind, CustomerKind } from './types.js';

export interface AccountKindRule {
  subjectCode: string;
  ledgerType: 'liability';
  debitsMustNotExceedCredits: true;
  /** Customer kinds that may hold an account of this kind. */
  customerKinds: readonly CustomerKind[];
}

export function accountKindRule(kind: BusinessAccountKind): AccountKindRule {
  switch (kind) {
    case 'balance':
      return { subjectCode: '225103', ledgerType: 'liability', debitsMustNotExceedCredits: true, customerKinds: ['individual', 'individual_business', 'organization'] };
    case 'merchant_settlement':
      return { subjectCode: '225101', ledgerType: 'liability', debitsMustNotExceedCredits: true, customerKinds: ['individual_business', 'organization'] };
    case 'deposit':
      return { subjectCode: '2241', ledgerType: 'liability', debitsMustNotExceedCredits: true, customerKinds: ['individual', 'individual_business', 'organization'] };
    default:
      return assertNever(kind, 'business account kind');
  }
}

/** The ledger account ref of a business account: stable, so creating the ledger account is idempotent. */
export function ledgerRefFor(businessAccountId: bigint): string {
  return `party-account:${businessAccountId}`;
}

/** The ledger account name; fixed by the record so a retried creation matches the first one. */
export function ledgerNameFor(businessAccountId: bigint, kind: BusinessAccountKind): string {
  return `${kind} ${businessAccountId}`;
}
