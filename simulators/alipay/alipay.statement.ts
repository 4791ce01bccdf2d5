/**
 * Alipay's daily trade bill (bill_type=trade), generated from the simulator's trades: a ZIP of two
 * GBK-encoded CSV files, `<PID>_<yyyyMMdd>_业务明细.csv` and `<PID>_<yyyyMMdd>_业务明细(汇总).csv`, in
 * Alipay's layout (title, account and date-range comment lines; the table between marker lines;
 * footer totals; identifier cells padded with a tab). The business day is the China calendar day.
 *
 * Confirmed from published samples: the title lines, markers, the detail columns and the footer
 * wording. Not confirmed: the summary file's exact row layout (here one 合计 row) and the sign of
 * 订单金额 on refund lines (here negative, like 商家实收).
 */
import { zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { beijing, beijingDate, beijingLong, yuan } from './alipay.crypto.js';
import type { SimTrade } from './alipay.state.js';

const DETAIL_COLUMNS = [
  '支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号', '对方账户',
  '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）', '券核销金额（元）', '券名称',
  '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注',
];
const SUMMARY_COLUMNS = ['门店编号', '门店名称', '交易订单总笔数', '退款订单总笔数', '订单金额（元）', '商家实收（元）', '支付宝优惠（元）', '商家优惠（元）', '卡消费金额（元）', '服务费（元）', '分润（元）', '实收净额（元）'];
const DETAIL_START = '#-----------------------------------------业务明细列表----------------------------------------';
const DETAIL_END = '#-----------------------------------------业务明细列表结束------------------------------------';
const SUMMARY_START = '#-----------------------------------------业务汇总列表----------------------------------------';
const SUMMARY_END = '#----------------------------------------业务汇总列表结束-------------------------------------';

const tab = (s: string) => `${s}\t`;
const neg = (fen: bigint) => (fen === 0n ? '0.00' : `-${yuan(fen)}`);

function cell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

interface BillRow {
  cells: string[];
  payment: boolean;
  orderFen: bigint;
  receivedFen: bigint;
  serviceFen: bigint;
}

function rowsFor(trades: readonly SimTrade[], pid: string, date: string): BillRow[] {
  const rows: Array<BillRow & { at: number }> = [];
  for (const t of trades) {
    if (t.pid !== pid) continue;
    const buyer = tab(`159****${t.tradeNo.slice(-4)}`);
    const common = (type: string, done: Date) => [tab(t.tradeNo), tab(t.outTradeNo), tab(type), cell(t.subject), beijing(t.scannedAt ?? t.createdAt), beijing(done), '\t', '\t', '\t', '\t', buyer];
    if (t.paidAt && beijingDate(t.paidAt) === date) {
      const cells = [...common('交易', t.paidAt), yuan(t.totalFen), yuan(t.totalFen), '0.00', '0.00', '0.00', '0.00', '0.00', '', tab('0.00'), '0.00', '\t', neg(t.feeFen), '0.00', ''];
      rows.push({ cells, payment: true, orderFen: t.totalFen, receivedFen: t.totalFen, serviceFen: -t.feeFen, at: t.paidAt.getTime() });
    }
    for (const r of t.refunds) {
      if (beijingDate(r.at) !== date) continue;
      const cells = [...common('退款', r.at), neg(r.amountFen), neg(r.amountFen), '0.00', '0.00', '0.00', '0.00', '0.00', '', tab('0.00'), '0.00', tab(r.outRequestNo), yuan(r.feeReturnedFen), '0.00', cell(r.reason ?? '')];
      rows.push({ cells, payment: false, orderFen: -r.amountFen, receivedFen: -r.amountFen, serviceFen: r.feeReturnedFen, at: r.at.getTime() });
    }
  }
  return rows.sort((a, b) => a.at - b.at);
}

const signed = (fen: bigint) => (fen < 0n ? `-${yuan(-fen)}` : yuan(fen));

/** Builds the bill ZIP for one merchant (PID) and China business date YYYY-MM-DD. */
export function buildBillZip(trades: readonly SimTrade[], pid: string, date: string, now: Date): Uint8Array {
  const rows = rowsFor(trades, pid, date);
  const start = new Date(`${date}T00:00:00+08:00`);
  const end = new Date(start.getTime() + 86_400_000);
  const head = (title: string) => [title, `#账号：[${pid}0156]`, `#起始日期：[${beijingLong(start)}]   终止日期：[${beijingLong(end)}]`];
  const payments = rows.filter((r) => r.payment);
  const refunds = rows.filter((r) => !r.payment);
  const sum = (rs: BillRow[], f: (r: BillRow) => bigint) => rs.reduce((s, r) => s + f(r), 0n);
  const exported = `#导出时间：[${beijingLong(now)}]`;

  const detail = [
    ...head('#支付宝业务明细查询'),
    DETAIL_START,
    DETAIL_COLUMNS.join(','),
    ...rows.map((r) => r.cells.join(',')),
    DETAIL_END,
    `#交易合计：${payments.length}笔，商家实收共${signed(sum(payments, (r) => r.receivedFen))}元，商家优惠共0.00元`,
    `#退款合计：${refunds.length}笔，商家实收退款共${signed(sum(refunds, (r) => r.receivedFen))}元，商家优惠退款共0.00元`,
    exported,
  ];
  const received = sum(rows, (r) => r.receivedFen);
  const service = sum(rows, (r) => r.serviceFen);
  const summary = [
    ...head('#支付宝业务汇总查询'),
    SUMMARY_START,
    SUMMARY_COLUMNS.join(','),
    ['合计', '', String(payments.length), String(refunds.length), signed(sum(rows, (r) => r.orderFen)), signed(received), '0.00', '0.00', '0.00', signed(service), '0.00', signed(received + service)].join(','),
    SUMMARY_END,
    exported,
  ];
  const compact = date.replace(/-/g, '');
  const gbk = (lines: string[]) => new Uint8Array(iconv.encode(`${lines.join('\r\n')}\r\n`, 'gbk'));
  return zipSync({
    [`${pid}_${compact}_业务明细.csv`]: gbk(detail),
    [`${pid}_${compact}_业务明细(汇总).csv`]: gbk(summary),
  });
}
