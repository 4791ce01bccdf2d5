/**
 * UnionPay's merchant reconciliation file (对账文件), as delivered by the file transfer request
 * (txnType 76, txnSubType 01, fileType 00).
 *
 * Verified against UnionPay's SDK and demo code: the answer's `fileContent` is the zip archive
 * compressed with java.util.zip.Deflater (zlib format) and then base64-encoded; `fileName` names the
 * zip (merId_yyyyMMdd.zip). Inside, the general transaction detail file is the one whose name
 * contains "ZM_" (INN{yyMMdd}88ZM_{merId}); it is fixed-width text with one space between fields,
 * field widths {3,11,11,6,10,19,12,4,2,21,2,32,2,6,10,13,13,4,15,2,2,6,2,4,32,1,21,15,1,15,32,13,13,
 * 8,32,13,13,12,2,1,32,98} (DemoBase.parseZMFile) and field meanings as in 《全渠道平台接入接口规范
 * 第3部分 文件接口》 6.1. The file is GBK text; widths are taken as bytes. Signed amounts are "X+n12":
 * D (debit) or C (credit) followed by twelve digits of fen.
 */
import iconv from 'iconv-lite';
import { unzipSync, unzlibSync } from 'fflate';
import type { StatementLine } from '../../adapter.js';
import { resolveMonthDayTime } from './unionpay.codec.js';

export const ZM_FIELD_WIDTHS = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98] as const;

/** Indexes (0-based) of the ZM fields we read. */
export const ZM = {
  transmitTime: 4, // 交易传输时间 MMDDhhmmss
  amount: 6, // 交易金额
  queryId: 9, // 查询流水号
  orderId: 11, // 商户订单号
  merchantFee: 15, // 商户手续费 X+n12
  txnType: 19, // 交易类型
  origQueryId: 26, // 原交易查询流水号
  origOrderId: 40, // 原始交易订单号
} as const;

/** Splits one ZM line (bytes) into trimmed fields; undefined when the line is too short. */
export function splitZmLine(line: Buffer): string[] | undefined {
  const fields: string[] = [];
  let at = 0;
  for (const width of ZM_FIELD_WIDTHS) {
    if (at + width > line.length) return fields.length >= ZM.origOrderId + 1 ? fields : undefined;
    fields.push(iconv.decode(line.subarray(at, at + width), 'gbk').trim());
    at += width + 1;
  }
  return fields;
}

/** The zip inside `fileContent`: base64, then zlib-inflate. Returns the archive's entries. */
export function decodeFileContent(fileContent: string): Record<string, Uint8Array> {
  const zipped = unzlibSync(Buffer.from(fileContent, 'base64'));
  return unzipSync(zipped);
}

function digits(v: string | undefined): bigint | undefined {
  return v !== undefined && /^\d{1,13}$/.test(v) ? BigInt(v) : undefined;
}

/** "D000000000006" -> 6n; the sign is read by the caller where it matters. */
function signedDigits(v: string | undefined): bigint | undefined {
  return v !== undefined && /^[DC]\d{12}$/.test(v) ? BigInt(v.slice(1)) : undefined;
}

/**
 * Turns the ZM file into statement lines. Consumes (交易类型 01) become payments; refunds (04) and
 * same-day cancellations (31) become refunds, linked to the payment through 原始交易订单号 and
 * 原交易查询流水号. Other transaction types do not occur for a QR merchant and are skipped.
 */
export function zmToStatementLines(zm: Buffer, reference: Date): { ok: true; lines: StatementLine[] } | { ok: false; reason: string } {
  const lines: StatementLine[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < zm.length) {
    let end = zm.indexOf(0x0a, start);
    if (end < 0) end = zm.length;
    let raw = zm.subarray(start, end);
    start = end + 1;
    lineNo++;
    if (raw.length > 0 && raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, raw.length - 1);
    if (raw.toString('latin1').trim().length === 0) continue;
    const f = splitZmLine(raw);
    if (!f) return { ok: false, reason: `ZM line ${lineNo} is shorter than the fixed layout` };
    const txnType = f[ZM.txnType];
    if (txnType !== '01' && txnType !== '04' && txnType !== '31') continue;
    const amountMinor = digits(f[ZM.amount]);
    const feeMinor = signedDigits(f[ZM.merchantFee]);
    const occurredAt = resolveMonthDayTime(f[ZM.transmitTime], reference);
    if (amountMinor === undefined || feeMinor === undefined || occurredAt === undefined) return { ok: false, reason: `ZM line ${lineNo} has a malformed amount, fee or time` };
    if (txnType === '01') {
      lines.push({ kind: 'payment', outTradeNo: f[ZM.orderId]!, channelTradeNo: f[ZM.queryId]!, amountMinor, feeMinor, currency: 'CNY', occurredAt, status: 'SUCCESS' });
    } else {
      lines.push({
        kind: 'refund',
        outTradeNo: f[ZM.origOrderId]!,
        channelTradeNo: f[ZM.origQueryId]!,
        outRefundNo: f[ZM.orderId]!,
        channelRefundNo: f[ZM.queryId]!,
        amountMinor,
        feeMinor,
        currency: 'CNY',
        occurredAt,
        status: 'SUCCESS',
      });
    }
  }
  return { ok: true, lines };
}

/** Statement totals: count, net amount (payments minus refunds), net fee (charged minus returned). */
export function statementTotals(lines: StatementLine[]): { count: number; amountMinor: bigint; feeMinor: bigint } {
  let amountMinor = 0n;
  let feeMinor = 0n;
  for (const l of lines) {
    const sign = l.kind === 'payment' ? 1n : -1n;
    amountMinor += sign * l.amountMinor;
    feeMinor += sign * l.feeMinor;
  }
  return { count: lines.length, amountMinor, feeMinor };
}
