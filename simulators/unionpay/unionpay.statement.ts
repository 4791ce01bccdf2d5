/**
 * Builds the simulator's reconciliation file for one merchant and clearing date, the way the file
 * transfer request (txnType 76) delivers it: a zip holding the general detail file
 * INN{yyMMdd}88ZM_{merId} (and an empty ZME_ error-detail file), compressed with zlib (Java's
 * Deflater) and base64-encoded into `fileContent`.
 *
 * The ZM layout (widths, one space between fields, GBK) follows UnionPay's SDK (DemoBase.parseZMFile)
 * and the field list of 《全渠道平台接入接口规范 第3部分 文件接口》 6.1. Codes inside fields that the
 * public material does not spell out are filled with plausible constants and marked below: 交易代码
 * S22 (consume) / S30 (refund) / S31 (cancellation), the institution codes, MCC and terminal type.
 */
import iconv from 'iconv-lite';
import { zipSync, zlibSync } from 'fflate';
import type { Consume, Refund, Txn, UnionPayStore } from './unionpay.state.js';

const WIDTHS = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98];

/** A fee of 0.38% (38 basis points), rounded half up, as a typical QR merchant rate. */
export function merchantFeeFen(amountFen: number): number {
  return Math.floor((amountFen * 38 + 5000) / 10000);
}

function signed(sign: 'D' | 'C', fen: number, digits = 12): string {
  return `${sign}${String(fen).padStart(digits, '0')}`;
}

function field(value: string, width: number): Buffer {
  const b = iconv.encode(value, 'gbk');
  if (b.length > width) return b.subarray(0, width);
  return Buffer.concat([b, Buffer.alloc(width - b.length, 0x20)]);
}

function zmLine(t: Txn, store: UnionPayStore): Buffer {
  const isConsume = t.kind === 'consume';
  const original: Consume | undefined = isConsume ? t : (store.get((t as Refund).origKey) as Consume | undefined);
  const fee = merchantFeeFen(t.amountFen);
  // A consume charges the fee and credits the merchant; a refund debits the merchant and returns
  // the fee on the refunded part.
  const values: string[] = [
    isConsume ? 'S22' : (t as Refund).txnType === '31' ? 'S31' : 'S30', // 交易代码 (codes not confirmed)
    '00049992', // 代理机构标识码 (placeholder)
    '00049992', // 发送机构标识码 (placeholder)
    t.traceNo, // 系统跟踪号
    t.traceTime ?? '', // 交易传输时间
    original?.accNo ?? '', // 帐号
    String(t.amountFen).padStart(12, '0'), // 交易金额
    '5411', // 商户类别 (placeholder MCC)
    '08', // 终端类型 (placeholder)
    t.queryId, // 查询流水号
    '', // 支付方式(旧)
    t.orderId, // 商户订单号
    '01', // 支付卡类型
    isConsume ? '' : (original?.traceNo ?? ''), // 原始交易的系统跟踪号
    isConsume ? '' : (original?.traceTime ?? ''), // 原始交易日期时间
    signed(isConsume ? 'D' : 'C', fee), // 商户手续费
    signed(isConsume ? 'C' : 'D', t.amountFen), // 结算金额
    '', // 支付方式
    '', // 集团商户代码
    isConsume ? '01' : (t as Refund).txnType, // 交易类型
    isConsume ? '07' : '00', // 交易子类
    '000000', // 业务类型
    '01', // 帐号类型
    '', // 账单类型
    '', // 账单号码
    '1', // 交互方式
    isConsume ? '' : (original?.queryId ?? ''), // 原交易查询流水号
    t.merId, // 商户代码
    '', // 分账入账方式
    '', // 二级商户代码
    '', // 二级商户简称
    '', // 二级商户分账入账金额
    signed(isConsume ? 'C' : 'D', t.amountFen - fee), // 清算净额
    '', // 终端号
    t.reqReserved ?? '', // 商户自定义域
    signed('C', 0), // 优惠金额
    signed('C', 0), // 发票金额
    signed('C', 0, 11), // 分期付款附加手续费
    '', // 分期付款期数
    '', // 交易介质
    isConsume ? '' : (original?.orderId ?? ''), // 原始交易订单号
    '', // 保留使用
  ];
  const parts: Buffer[] = [];
  values.forEach((v, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(field(v, WIDTHS[i]!));
  });
  return Buffer.concat(parts);
}

/** The answer fields of a file transfer for one clearing date (YYYY-MM-DD). */
export function reconciliationFile(store: UnionPayStore, merId: string, settleDate: string): { fileName: string; fileContent: string } {
  const ymd = settleDate.replace(/-/g, '');
  const txns = store.settledOn(merId, settleDate).sort((a, b) => (a.traceTime ?? '').localeCompare(b.traceTime ?? ''));
  const lines = txns.map((t) => zmLine(t, store));
  const zm = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]));
  const zip = zipSync({ [`INN${ymd.slice(2)}88ZM_${merId}`]: zm, [`INN${ymd.slice(2)}88ZME_${merId}`]: new Uint8Array(0) });
  return { fileName: `${merId}_${ymd}.zip`, fileContent: Buffer.from(zlibSync(zip)).toString('base64') };
}
