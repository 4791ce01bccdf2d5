/** Records of the cards module. Amounts are bigint minor units. */
import type { CardsErrorCode } from './errors.js';
export type CardStatus = 'in_stock' | 'active' | 'frozen' | 'loss_reported' | 'lost' | 'replaced' | 'expired' | 'closed';

export interface BonusRule {
  /** A recharge of at least this much earns `bonusMinor`; the largest matching rule wins. */
  minRechargeMinor: bigint;
  bonusMinor: bigint;
  /** Days the bonus stays spendable after the recharge; absent: as long as the card. */
  validDays?: number;
}

export interface CardProduct {
  id: bigint;
  code: string;
  name: string;
  issuerKind: 'platform' | 'merchant';
  issuerMerchantId: bigint | null;
  /** Escrow class of the issuer (A / B / C: 20% / 30% / 40% of the outstanding balance by default). */
  issuerClass: 'A' | 'B' | 'C';
  purpose: 'single' | 'multi';
  named: boolean;
  currency: string;
  binPrefix: string;
  numberLength: number;
  validityMonths: number | null;
  rechargeable: boolean;
  issuanceFee: bigint;
  replacementFee: bigint;
  bonusRules: BonusRule[];
  bonusSpendOrder: 'principal_first' | 'bonus_first';
  policyVersion: string;
  policyOverrides: Record<string, unknown>;
  status: 'active' | 'suspended';
  createdAt: Date;
}

export interface Card {
  id: bigint;
  productId: bigint;
  serial: bigint;
  last4: string;
  named: boolean;
  status: CardStatus;
  priorStatus: 'active' | 'frozen' | null;
  holderCustomerId: bigint | null;
  principalAccountId: bigint;
  bonusAccountId: bigint;
  purseAccountId: bigint;
  hasPin: boolean;
  pinFailedAttempts: number;
  pinLockedUntil: Date | null;
  batchId: bigint;
  saleId: bigint | null;
  soldAt: Date | null;
  validUntil: Date | null;
  lossReportedAt: Date | null;
  replacedBy: bigint | null;
  replacedFrom: bigint | null;
  policyVersion: string;
  createdAt: Date;
  updatedAt: Date;
}

export type CardTxKind = 'load' | 'recharge' | 'consume' | 'void' | 'refund' | 'replacement' | 'redeem' | 'purse_load' | 'offline_debit' | 'breakage' | 'hold' | 'capture' | 'release';

/**
 * Where a card hold (combined payments, holds.ts) stands: `active` (the money is held), `captured`
 * (paid to the merchant), `released` (given back by a release), `expired` (the ledger's timeout
 * passed; the money is back, or will be once the ledger's expiry worker runs).
 */
export type HoldState = 'active' | 'captured' | 'released' | 'expired';

export interface CardTransaction {
  id: bigint;
  idempotencyKey: string;
  cardId: bigint;
  kind: CardTxKind;
  status: 'pending' | 'succeeded' | 'failed';
  amount: bigint;
  principalAmount: bigint;
  bonusAmount: bigint;
  feeAmount: bigint;
  merchantId: bigint | null;
  terminalId: string | null;
  relatedId: bigint | null;
  refundedAmount: bigint;
  voided: boolean;
  paymentMethod: string | null;
  failureCode: CardsErrorCode | null;
  businessDate: string;
  policyVersion: string;
  metadata: Record<string, unknown>;
  createdAt: Date;
  /** Recharges with a promotional bonus that expires: when it does. */
  bonusExpiresAt?: Date | null;
  /**
   * Holds: the hold's current state (null while it is being placed or if it was declined).
   * Captures and releases: the state they left the hold in (a release of a hold that was never
   * placed: null). Other kinds: null.
   */
  holdState?: HoldState | null;
  /** Holds: when the hold times out (the ledger expires it then). */
  holdExpiresAt?: Date | null;
}
