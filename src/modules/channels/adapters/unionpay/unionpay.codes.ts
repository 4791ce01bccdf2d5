/**
 * What UnionPay's two-digit response codes (respCode / origRespCode, 《平台接入接口规范-第5部分-附录》)
 * mean for us. The published table: 00 success; 01-09 UnionPay system side (03 通讯超时, 04 状态未明,
 * 05 已受理 — "ask again with a query"); 10-29 message format checks (10 格式错误, 11 验签失败,
 * 12 重复交易, 13 要素缺失); 30-59 merchant-side business checks (34 查无此交易, 35 原交易状态不正确,
 * 36 与原交易信息不符, ...); 60-89 cardholder / issuer problems; 98 文件不存在 for file downloads.
 */
import type { RefundStatus, TradeStatus } from '../../adapter.js';

export type AcpAnswerKind = 'success' | 'in_progress' | 'duplicate' | 'refused';

/**
 * Classifies the respCode of a money-moving request (apply for a QR code, refund).
 *
 * - 03, 04, 05: UnionPay itself says the outcome is not known yet — ask by query.
 * - 12 (重复交易): an order with this orderId and txnTime exists, which may be our own earlier
 *   attempt that got through: ask by query rather than conclude anything.
 * - Everything else that is not 00 is a refusal of this request: for a QR code application it proves
 *   no money moved (no code was issued, so the payer cannot pay), and for a refund it proves the
 *   refund was not accepted.
 */
export function classifyRespCode(code: string | undefined): AcpAnswerKind {
  switch (code) {
    case '00':
      return 'success';
    case '03':
    case '04':
    case '05':
      return 'in_progress';
    case '12':
      return 'duplicate';
    case undefined:
      return 'in_progress';
    default:
      return 'refused';
  }
}

/** Whether another channel may try after this refusal: all except risk control (38, 银联风险受限). */
export function refusalRetryable(code: string): boolean {
  return code !== '38';
}

/** The original consume's state from a query's origRespCode. */
export function paymentStatusFromOrig(origRespCode: string | undefined): TradeStatus {
  if (origRespCode === '00') return 'succeeded';
  if (origRespCode === undefined || origRespCode === '03' || origRespCode === '04' || origRespCode === '05') return 'pending';
  // 60-89 are cardholder / issuer refusals of an attempted payment; anything else (01 and the
  // 30-59 range) is an order that ended without payment, such as one that passed its payTimeout.
  const n = Number(origRespCode);
  return n >= 60 && n <= 89 ? 'failed' : 'closed';
}

export function refundStatusFromOrig(origRespCode: string | undefined): RefundStatus {
  if (origRespCode === '00') return 'succeeded';
  if (origRespCode === undefined || origRespCode === '03' || origRespCode === '04' || origRespCode === '05') return 'processing';
  return 'failed';
}
