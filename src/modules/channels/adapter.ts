/**
 * The channel adapter contract. An adapter knows one provider's wire format and nothing else: it
 * turns our requests into HTTP request descriptions (signed), and HTTP responses and notifications
 * back into our results (verified). It does no I/O of its own — no sockets, no clock reads, no
 * randomness: the caller passes `now` and `nonce`, sends the request (see http-exec.ts) and hands
 * back what came back. That keeps adapters deterministic and testable, and it keeps every decision
 * about timeouts and retries in one place (a lost answer is `unknown`, resolved by a query later).
 *
 * Result kinds are chosen so that routing can tell "no money moved" (a `declined` answer, which
 * allows failover to another channel) from "we cannot tell" (`unknown`, which never does).
 */

export type ChannelProvider = 'wechatpay' | 'alipay' | 'unionpay' | 'bank';

/** How the payer pays; each provider supports some. */
export type PayMethod =
  | 'wechat_native' // QR code shown to the payer (Native 支付)
  | 'wechat_jsapi' // inside WeChat (JSAPI 支付), needs the payer's openid
  | 'alipay_qr' // QR code (当面付 预下单 alipay.trade.precreate)
  | 'alipay_page' // PC/H5 page redirect (alipay.trade.page.pay / wap.pay)
  | 'unionpay_qr' // UnionPay QR (云闪付 主扫)
  | 'bank_quick' // quick pay (快捷支付): bound card + SMS code confirmation
  | 'bank_gateway'; // online banking gateway (网关支付): redirect to the bank

export const PAY_METHODS: readonly PayMethod[] = ['wechat_native', 'wechat_jsapi', 'alipay_qr', 'alipay_page', 'unionpay_qr', 'bank_quick', 'bank_gateway'];

/** An HTTP request an adapter wants sent. `url` is absolute (base URL from the channel account config). */
export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** What came back. Header names are lower-case. `body` is the bytes decoded as UTF-8; `bytes` the raw bytes (archives, GBK text). */
export interface HttpResponseData {
  status: number;
  headers: Record<string, string>;
  body: string;
  bytes?: Buffer;
}

/** Injected per call so adapters stay pure. `nonce` is random text the caller generated (≥ 16 chars, [A-Za-z0-9]). */
export interface CallContext {
  now: Date;
  nonce: string;
}

export interface PayRequest {
  /** Our attempt number sent to the channel as its out_trade_no (unique per attempt, ≤ 32 chars). */
  outTradeNo: string;
  amountMinor: bigint;
  currency: string;
  subject: string;
  expiresAt: Date;
  /** Where the channel posts its asynchronous notification (our endpoint). */
  notifyUrl: string;
  /** Where a redirect-style method returns the payer's browser (never trusted for state). */
  returnUrl?: string;
  method: PayMethod;
  clientIp?: string;
  /** WeChat JSAPI needs the payer's openid. */
  payerOpenId?: string;
  /** Quick pay: the bound bank card (agreement) and the phone the SMS goes to. */
  bankCard?: { agreementNo?: string; cardNo?: string; holderName?: string; idNumber?: string; phone?: string; bankCode?: string };
}

/** What the payer must do next, for the cashier. */
export type PayAction =
  | { type: 'qr_code'; codeUrl: string }
  | { type: 'redirect'; url: string }
  | { type: 'form_post'; url: string; fields: Record<string, string> }
  | { type: 'jsapi'; params: Record<string, string> }
  | { type: 'sms_code' };

export type PayResult =
  /** The channel accepted the order; the payer acts next; the outcome arrives by notification or query. */
  | { kind: 'accepted'; channelTradeNo?: string; action: PayAction }
  /** Paid already (e.g. quick pay confirmed synchronously). */
  | { kind: 'succeeded'; channelTradeNo: string; paidAt: Date; amountMinor: bigint; currency: string }
  /** The channel refused; proven that no money moved. `retryable` says whether another channel may try. */
  | { kind: 'declined'; code: string; message: string; retryable: boolean }
  /** We cannot tell (timeout, 5xx, malformed or unverifiable answer). Never retried blindly: ask by query. */
  | { kind: 'unknown'; reason: string };

export type TradeStatus = 'pending' | 'succeeded' | 'closed' | 'failed' | 'refunded';

export type QueryResult =
  | { kind: 'found'; status: TradeStatus; channelTradeNo?: string; amountMinor: bigint; currency: string; paidAt?: Date }
  /** The channel has never seen this out_trade_no: proven that no money moved. */
  | { kind: 'not_found' }
  | { kind: 'unknown'; reason: string };

export type CloseResult = { kind: 'closed' } | { kind: 'already_paid' } | { kind: 'declined'; code: string; message: string } | { kind: 'unknown'; reason: string };

export interface RefundRequest {
  outTradeNo: string;
  channelTradeNo?: string;
  /** Our refund attempt number (≤ 64 chars), unique per refund. */
  outRefundNo: string;
  refundMinor: bigint;
  totalMinor: bigint;
  currency: string;
  reason?: string;
  notifyUrl?: string;
}

export type RefundStatus = 'processing' | 'succeeded' | 'failed' | 'closed';

export type RefundResult =
  | { kind: 'accepted'; status: RefundStatus; channelRefundNo?: string; refundedAt?: Date }
  | { kind: 'declined'; code: string; message: string }
  | { kind: 'unknown'; reason: string };

export type RefundQueryResult =
  | { kind: 'found'; status: RefundStatus; channelRefundNo?: string; refundMinor: bigint; refundedAt?: Date }
  | { kind: 'not_found' }
  | { kind: 'unknown'; reason: string };

/** A verified, parsed asynchronous notification. */
export type ChannelEvent =
  | { type: 'payment'; outTradeNo: string; channelTradeNo: string; status: TradeStatus; amountMinor: bigint; currency: string; paidAt?: Date; raw: Record<string, unknown> }
  | { type: 'refund'; outTradeNo: string; outRefundNo: string; channelRefundNo?: string; status: RefundStatus; refundMinor: bigint; refundedAt?: Date; raw: Record<string, unknown> };

export type NotificationResult =
  | { ok: true; event: ChannelEvent; ack: HttpResponseData }
  /** Signature, decryption or format failed: nothing may change; `nack` is what to answer. */
  | { ok: false; code: 'bad_signature' | 'bad_format' | 'stale' | 'decrypt_failed'; message: string; nack: HttpResponseData };

/** One line of a provider's daily statement (对账单), normalised. Amounts in minor units. */
export interface StatementLine {
  kind: 'payment' | 'refund';
  outTradeNo: string;
  channelTradeNo: string;
  outRefundNo?: string;
  channelRefundNo?: string;
  amountMinor: bigint;
  feeMinor: bigint;
  currency: string;
  occurredAt: Date;
  status: string;
}

export type StatementResult =
  | { kind: 'lines'; lines: StatementLine[]; totals: { count: number; amountMinor: bigint; feeMinor: bigint } }
  | { kind: 'not_ready' }
  | { kind: 'unknown'; reason: string };

/**
 * One provider's adapter. `Config` is its channel account configuration (merchant ids, keys,
 * certificates, base URL), parsed and checked once by `parseConfig`.
 *
 * Statement download may take two hops (WeChat and Alipay answer with a download URL first):
 * `buildStatement` gives the first request, and `parseStatement` returns either the lines or
 * `{ next }`, the next request to send.
 */
export interface ChannelAdapter<Config = unknown> {
  readonly provider: ChannelProvider;
  readonly methods: readonly PayMethod[];
  parseConfig(raw: unknown): { ok: true; config: Config } | { ok: false; message: string };

  buildPay(cfg: Config, req: PayRequest, cx: CallContext): HttpRequestSpec;
  parsePay(cfg: Config, req: PayRequest, res: HttpResponseData, cx: CallContext): PayResult;

  /** Quick pay (bank_quick) second step: confirm with the SMS code the payer received. */
  buildConfirm?(cfg: Config, req: { outTradeNo: string; smsCode: string }, cx: CallContext): HttpRequestSpec;
  parseConfirm?(cfg: Config, res: HttpResponseData, cx: CallContext): PayResult;

  buildQuery(cfg: Config, req: { outTradeNo: string }, cx: CallContext): HttpRequestSpec;
  parseQuery(cfg: Config, res: HttpResponseData, cx: CallContext): QueryResult;

  buildClose(cfg: Config, req: { outTradeNo: string }, cx: CallContext): HttpRequestSpec;
  parseClose(cfg: Config, res: HttpResponseData, cx: CallContext): CloseResult;

  buildRefund(cfg: Config, req: RefundRequest, cx: CallContext): HttpRequestSpec;
  parseRefund(cfg: Config, res: HttpResponseData, cx: CallContext): RefundResult;

  buildRefundQuery(cfg: Config, req: { outTradeNo: string; outRefundNo: string }, cx: CallContext): HttpRequestSpec;
  parseRefundQuery(cfg: Config, res: HttpResponseData, cx: CallContext): RefundQueryResult;

  /** Verifies (signature, and decryption where the provider encrypts) and parses a notification. */
  verifyNotification(cfg: Config, req: { headers: Record<string, string>; body: string }, cx: CallContext): NotificationResult;

  /** `date` is the statement's business date, YYYY-MM-DD (China time for these providers). */
  buildStatement(cfg: Config, req: { date: string }, cx: CallContext): HttpRequestSpec;
  parseStatement(cfg: Config, res: HttpResponseData, cx: CallContext): StatementResult | { kind: 'next'; request: HttpRequestSpec };
}
