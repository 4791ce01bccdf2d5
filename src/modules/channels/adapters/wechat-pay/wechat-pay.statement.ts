/**
 * WeChat Pay trade bills (交易账单, bill_type=ALL): the download flow's second hop and the file's
 * format.
 *
 * The file is UTF-8 text in four parts: a header row of column names, detail rows, a summary header
 * (总交易单数,…) and one summary row. Fields are separated by commas, and every data field starts
 * with a backtick (`) so spreadsheets keep long numbers as text. Amounts are decimal yuan; fees have
 * five decimals. Payment rows carry 交易状态 SUCCESS (REVOKED for revoked code payments), refund rows
 * REFUND with the refund numbers, amounts and 退款状态. Columns are read by header name, since WeChat
 * notes the order may differ between bill kinds.
 */
import { createHash } from 'node:crypto';
import type { HttpResponseData, StatementLine, StatementResult } from '../../adapter.js';
import { parseChinaDateTime, yuanToFen } from './wechat-pay.wire.js';

type Totals = { count: number; amountMinor: bigint; feeMinor: bigint };
export type BillParse = { ok: true; lines: StatementLine[]; totals: Totals } | { ok: false; message: string };

/** Splits one data row: a leading backtick, then fields joined by ",`" (so commas inside text survive). */
function splitDataRow(row: string): string[] {
  const body = row.startsWith('`') ? row.slice(1) : row;
  return body.split(',`');
}

function column(header: readonly string[], fields: readonly string[], name: string): string | undefined {
  const i = header.indexOf(name);
  return i < 0 ? undefined : fields[i]?.trim();
}

function amount(header: readonly string[], fields: readonly string[], ...names: string[]): bigint | undefined {
  for (const n of names) {
    const v = column(header, fields, n);
    if (v !== undefined && v !== '') return yuanToFen(v);
  }
  return undefined;
}

function parseDetail(header: readonly string[], row: string, index: number): StatementLine | string {
  const f = splitDataRow(row);
  if (f.length !== header.length) return `detail row ${index + 1} has ${f.length} fields, the header ${header.length}`;
  const at = parseChinaDateTime(column(header, f, '交易时间') ?? '');
  const state = column(header, f, '交易状态') ?? '';
  const outTradeNo = column(header, f, '商户订单号') ?? '';
  const channelTradeNo = column(header, f, '微信订单号') ?? '';
  const currency = column(header, f, '货币种类') || 'CNY';
  const fee = amount(header, f, '手续费');
  if (!at || !outTradeNo || fee === undefined) return `detail row ${index + 1} lacks a time, an out_trade_no or a fee`;
  if (state === 'REFUND') {
    // 申请退款金额 is what we asked for; 退款金额 is what left after non-recharge coupons. The first is ours to match.
    const refund = amount(header, f, '申请退款金额', '退款金额');
    const outRefundNo = column(header, f, '商户退款单号');
    if (refund === undefined || !outRefundNo) return `refund row ${index + 1} lacks a refund amount or out_refund_no`;
    return {
      kind: 'refund',
      outTradeNo,
      channelTradeNo,
      outRefundNo,
      channelRefundNo: column(header, f, '微信退款单号'),
      amountMinor: refund,
      feeMinor: fee,
      currency,
      occurredAt: at,
      status: column(header, f, '退款状态') || 'REFUND',
    };
  }
  const total = amount(header, f, '订单金额', '应结订单金额');
  if (total === undefined) return `payment row ${index + 1} lacks an amount`;
  return { kind: 'payment', outTradeNo, channelTradeNo, amountMinor: total, feeMinor: fee, currency, occurredAt: at, status: state };
}

/**
 * Parses a bill and checks the summary row against the detail rows (count, order total, refund
 * total, fee total), which catches a truncated or altered file even without the hash.
 * Totals: `amountMinor` is payments minus refunds (the day's net), `feeMinor` the net fee.
 */
export function parseTradeBill(text: string): BillParse {
  const rows = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((r) => r.trim() !== '');
  const header = rows[0]?.split(',').map((h) => h.trim());
  if (!header || header[0] !== '交易时间') return { ok: false, message: 'not a WeChat Pay trade bill (no 交易时间 header)' };
  const summaryAt = rows.findIndex((r) => r.startsWith('总交易单数'));
  if (summaryAt < 1 || summaryAt !== rows.length - 2) return { ok: false, message: 'the bill has no summary header and row at its end' };
  const lines: StatementLine[] = [];
  for (const [i, row] of rows.slice(1, summaryAt).entries()) {
    const line = parseDetail(header, row, i);
    if (typeof line === 'string') return { ok: false, message: line };
    lines.push(line);
  }
  const sumHeader = rows[summaryAt]!.split(',').map((h) => h.trim());
  const sum = splitDataRow(rows[summaryAt + 1]!);
  if (sum.length !== sumHeader.length) return { ok: false, message: 'the summary row does not match its header' };
  const count = Number(column(sumHeader, sum, '总交易单数'));
  const orderTotal = amount(sumHeader, sum, '订单总金额', '应结订单总金额');
  const refundTotal = amount(sumHeader, sum, '申请退款总金额', '退款总金额');
  const feeTotal = amount(sumHeader, sum, '手续费总金额');
  if (!Number.isSafeInteger(count) || orderTotal === undefined || refundTotal === undefined || feeTotal === undefined) {
    return { ok: false, message: 'the summary row lacks a count or totals' };
  }
  let paid = 0n;
  let refunded = 0n;
  let fees = 0n;
  for (const l of lines) {
    if (l.kind === 'payment') paid += l.amountMinor;
    else refunded += l.amountMinor;
    fees += l.feeMinor;
  }
  if (count !== lines.length || paid !== orderTotal || refunded !== refundTotal || fees !== feeTotal) {
    return { ok: false, message: `the summary (${count} rows, ${orderTotal}/${refundTotal}/${feeTotal} fen) does not match the detail rows (${lines.length}, ${paid}/${refunded}/${fees})` };
  }
  return { ok: true, lines, totals: { count, amountMinor: paid - refunded, feeMinor: fees } };
}

/** SHA1 of the downloaded bytes against the hash_value from the first hop (lower-case hex in WeChat's examples). */
export function billHashMatches(bytes: Buffer, expectedHex: string): boolean {
  return createHash('sha1').update(bytes).digest('hex') === expectedHex.trim().toLowerCase();
}

export function billResult(parse: BillParse): StatementResult {
  return parse.ok ? { kind: 'lines', lines: parse.lines, totals: parse.totals } : { kind: 'unknown', reason: parse.message };
}

/** The second hop with the SHA1 the first hop announced: the hash, then the summary check. */
export function parseWechatPayBillFile(res: HttpResponseData, expectedSha1Hex: string): StatementResult {
  if (res.status !== 200) return { kind: 'unknown', reason: `bill download answered HTTP ${res.status}` };
  const bytes = res.bytes ?? Buffer.from(res.body, 'utf8');
  if (!billHashMatches(bytes, expectedSha1Hex)) return { kind: 'unknown', reason: 'bill file does not match the announced SHA1 hash' };
  return billResult(parseTradeBill(bytes.toString('utf8')));
}
