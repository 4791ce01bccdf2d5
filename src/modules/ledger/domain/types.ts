/** Ledger records and inputs. Amounts are bigint minor units; ids are bigint. */

export const ACCOUNT_TYPES = ['asset', 'liability', 'equity', 'income', 'expense'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

export const ACCOUNT_STATUSES = ['active', 'debit_frozen', 'credit_frozen', 'frozen', 'closed'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export type NormalSide = 'debit' | 'credit';

export function normalSide(type: AccountType): NormalSide {
  switch (type) {
    case 'asset':
    case 'expense':
      return 'debit';
    case 'liability':
    case 'equity':
    case 'income':
      return 'credit';
  }
}

export interface Account {
  id: bigint;
  ref: string | null;
  type: AccountType;
  currency: string;
  subjectCode: string;
  ownerId: bigint | null;
  name: string;
  status: AccountStatus;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  creditLimit: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

/** The mutable part of an account that the transfer path reads and writes. */
export interface AccountBalanceState {
  id: bigint;
  type: AccountType;
  currency: string;
  status: AccountStatus;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  creditLimit: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

/** Posted balance in the account's normal direction (positive when the account holds value). */
export function postedBalance(a: Pick<AccountBalanceState, 'type' | 'debitsPosted' | 'creditsPosted'>): bigint {
  return normalSide(a.type) === 'debit' ? a.debitsPosted - a.creditsPosted : a.creditsPosted - a.debitsPosted;
}

/**
 * What can still be taken out (for accounts limited on the debit side: credits - debits - holds
 * + credit limit; for accounts limited on the credit side, the mirror image). Unlimited accounts
 * report the posted balance net of pending outflows.
 */
export function availableBalance(a: AccountBalanceState): bigint {
  if (a.debitsMustNotExceedCredits) return a.creditsPosted + a.creditLimit - a.debitsPosted - a.debitsPending;
  if (a.creditsMustNotExceedDebits) return a.debitsPosted + a.creditLimit - a.creditsPosted - a.creditsPending;
  return normalSide(a.type) === 'debit'
    ? a.debitsPosted - a.creditsPosted - a.creditsPending
    : a.creditsPosted - a.debitsPosted - a.debitsPending;
}

export const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending', 'expire_pending'] as const;
export type TransferKind = (typeof TRANSFER_KINDS)[number];
export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

export interface Transfer {
  id: bigint;
  seq?: bigint;
  idempotencyKey: string;
  kind: TransferKind;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  currency: string;
  code: string;
  pendingId: bigint | null;
  pendingStatus: PendingStatus | null;
  postedAmount: bigint | null;
  timeoutAt: Date | null;
  reversesId: bigint | null;
  reversedAmount: bigint;
  chainId: bigint | null;
  description: string;
  metadata: Record<string, unknown>;
  debitBalanceAfter: bigint;
  creditBalanceAfter: bigint;
  createdAt: Date;
}

/** A transfer request after input validation (see validate.ts). */
export interface TransferInput {
  idempotencyKey: string;
  kind: 'posted' | 'pending' | 'post_pending' | 'void_pending' | 'expire_pending';
  debitAccountId?: bigint;
  creditAccountId?: bigint;
  /** Required for posted/pending; for post_pending defaults to the whole pending amount. */
  amount?: bigint;
  currency?: string;
  pendingId?: bigint;
  timeoutSeconds?: number;
  reversesId?: bigint;
  code: string;
  description: string;
  metadata: Record<string, unknown>;
  /** Linked with the next transfer of the same request: the chain succeeds or fails as a whole. */
  linked: boolean;
}
