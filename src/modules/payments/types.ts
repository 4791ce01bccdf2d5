/** Records of the payments module. Amounts are bigint minor units. */
import type { PayAction, PayMethod } from '../channels/index.js';

export type OrderStatus = 'created' | 'processing' | 'unknown' | 'succeeded' | 'failed' | 'closed';
export type LegKind = 'channel' | 'card' | 'balance';
export type LegStatus = 'created' | 'pending' | 'unknown' | 'held' | 'succeeded' | 'failed' | 'closed' | 'cancelled';
export type Strategy = 'saga' | 'topup_then_pay';

export interface PaymentOrder {
  id: bigint;
  orderNo: string;
  merchantId: bigint;
  merchantOrderNo: string;
  amount: bigint;
  currency: string;
  subject: string;
  notifyUrl: string;
  returnUrl: string | null;
  methods: string[];
  expiresAt: Date;
  status: OrderStatus;
  strategy: Strategy;
  payerCustomerId: bigint | null;
  feeAmount: bigint;
  refundedAmount: bigint;
  failureCode: string | null;
  succeededAt: Date | null;
  closedAt: Date | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface PaymentLeg {
  id: bigint;
  orderId: bigint;
  legNo: number;
  kind: LegKind;
  amount: bigint;
  status: LegStatus;
  channelAccountId: bigint | null;
  method: PayMethod | null;
  outTradeNo: string | null;
  channelTradeNo: string | null;
  action: PayAction | null;
  routeTrace: unknown;
  feeAmount: bigint;
  channelCost: bigint;
  cardId: bigint | null;
  cardTxId: bigint | null;
  ledgerAccountId: bigint | null;
  holdTransferId: bigint | null;
  refundedAmount: bigint;
  failureCode: string | null;
  failureMessage: string | null;
  queryAttempts: number;
  nextQueryAt: Date | null;
  paidAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type RefundStatus = 'processing' | 'succeeded' | 'failed';

export interface PaymentRefund {
  id: bigint;
  refundNo: string;
  orderId: bigint;
  merchantId: bigint;
  merchantRefundNo: string;
  amount: bigint;
  reason: string;
  purpose: 'merchant' | 'compensation';
  status: RefundStatus;
  failureCode: string | null;
  succeededAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type RefundPartStatus = 'created' | 'processing' | 'unknown' | 'succeeded' | 'failed';

export interface RefundPart {
  id: bigint;
  refundId: bigint;
  legId: bigint;
  amount: bigint;
  feeReturned: bigint;
  outRefundNo: string;
  channelRefundNo: string | null;
  status: RefundPartStatus;
  failureCode: string | null;
  queryAttempts: number;
  nextQueryAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MerchantNotification {
  id: bigint;
  merchantId: bigint;
  orderId: bigint | null;
  refundId: bigint | null;
  eventType: string;
  url: string;
  payload: Record<string, unknown>;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: Date;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}
