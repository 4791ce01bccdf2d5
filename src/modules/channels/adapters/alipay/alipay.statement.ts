/**
 * Alipay's daily trade bill (业务账单, bill_type=trade): a ZIP holding two GBK-encoded CSV files,
 * `<PID>_<yyyyMMdd>_业务明细.csv` (one line per successful payment or refund) and
 * `<PID>_<yyyyMMdd>_业务明细(汇总).csv` (totals). Both open with `#` comment lines (title,
 * account, date range), frame their table between `#---…列表---` and `#---…列表结束---` marker
 * lines, and end with `#` footer lines. Identifier cells carry a trailing tab (so spreadsheets keep
 * them as text). Payment lines show a negative 服务费 (fee taken); refund lines show negative
 * amounts and a positive 服务费 (fee given back).
 *
 * Files are recognised by their title line rather than by name, since the ZIP stores the Chinese
 * names in GBK without the UTF-8 flag.
 */
import { unzipSync } from 'fflate';
import iconv from 'iconv-lite';
import type { StatementLine, StatementResult } from '../../adapter.js';
import { yuanToFen } from './alipay.answer.js';
import { parseChinaTime } from './alipay.sign.js';

const MAX_ENTRIES = 16;
const MAX_UNZIPPED_BYTES = 64 * 1024 * 1024;

export function isZip(bytes: Buffer | undefined): bytes is Buffer {
  return bytes !== undefined && bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function parseBillZip(bytes: Buffer): StatementResult {
  let files: Record<string, Uint8Array>;
  try {
    let entries = 0;
    let total = 0;
    files = unzipSync(bytes, {
      // Refuse archive bombs before inflating: few entries, bounded sizes.
      filter: (f) => {
        entries++;
        total += f.originalSize;
        if (entries > MAX_ENTRIES || total > MAX_UNZIPPED_BYTES) throw new Error('the bill archive is larger than expected');
        return true;
      },
    });
  } catch (e) {
    return { kind: 'unknown', reason: `cannot unzip the Alipay bill: ${(e as Error).message}` };
  }
  let detail: string[] | undefined;
  let summary: string[] | undefined;
  for (const data of Object.values(files)) {
    const lines = iconv.decode(Buffer.from(data), 'gbk').split(/\r?\n/);
    const title = lines[0]?.trim();
    if (title === '#支付宝业务明细查询') detail = lines;
    else if (title === '#支付宝业务汇总查询') summary = lines;
  }
  if (!detail) return { kind: 'unknown', reason: 'the Alipay bill has no 业务明细 file' };
  const detailResult = parseDetail(detail);
  if (typeof detailResult === 'string') return { kind: 'unknown', reason: detailResult };
  const parsed = detailResult.lines;
  const totals = {
    count: parsed.length,
    amountMinor: parsed.reduce((s, l) => s + (l.kind === 'payment' ? l.amountMinor : -l.amountMinor), 0n),
    feeMinor: parsed.reduce((s, l) => s + l.feeMinor, 0n),
  };
  if (summary) {
    const check = checkSummary(summary, detailResult);
    if (check) return { kind: 'unknown', reason: check };
  }
  return { kind: 'lines', lines: parsed, totals };
}

/** The rows between the `#…列表…` marker and the closing `#` line, as header-keyed records. */
function table(lines: readonly string[], marker: string): Array<Record<string, string>> | string {
  const start = lines.findIndex((l) => l.startsWith('#') && l.includes(marker) && !l.includes(`${marker}结束`));
  if (start < 0) return `the bill has no ${marker} section`;
  const header = csvCells(lines[start + 1] ?? '');
  const rows: Array<Record<string, string>> = [];
  for (let i = start + 2; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) return rows;
    if (line.trim() === '') continue;
    const cells = csvCells(line);
    const row: Record<string, string> = {};
    header.forEach((h, j) => (row[h] = cells[j] ?? ''));
    rows.push(row);
  }
  return `the ${marker} section is not closed`;
}

/** Splits one CSV line (RFC 4180 quoting), trimming the tabs and spaces Alipay pads cells with. */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') cells.push(cur.trim()), (cur = '');
    else cur += c;
  }
  cells.push(cur.trim());
  return cells;
}

/** A signed yuan amount ("-0.06") in fen. */
function signedFen(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const neg = text.startsWith('-');
  const fen = yuanToFen(neg ? text.slice(1) : text);
  return fen === undefined ? undefined : neg ? -fen : fen;
}

interface Detail {
  lines: StatementLine[];
  /** Sums of the raw 商家实收 and 服务费 columns, signed as in the file, for the summary check. */
  receivedSumFen: bigint;
  serviceSumFen: bigint;
}

function parseDetail(lines: readonly string[]): Detail | string {
  const rows = table(lines, '业务明细列表');
  if (typeof rows === 'string') return rows;
  const out: StatementLine[] = [];
  let receivedSumFen = 0n;
  let serviceSumFen = 0n;
  for (const [i, r] of rows.entries()) {
    const where = `业务明细 line ${i + 1}`;
    const type = r['业务类型'];
    const orderFen = signedFen(r['订单金额（元）']);
    const receivedFen = signedFen(r['商家实收（元）']);
    const serviceFen = signedFen(r['服务费（元）'] || '0.00');
    const occurredAt = parseChinaTime(r['完成时间']);
    const tradeNo = r['支付宝交易号'] ?? '';
    const outTradeNo = r['商户订单号'] ?? '';
    if (!tradeNo || !outTradeNo) return `${where}: missing 支付宝交易号 or 商户订单号`;
    if (orderFen === undefined || receivedFen === undefined || serviceFen === undefined) return `${where}: malformed amount`;
    if (!occurredAt) return `${where}: malformed 完成时间 ${r['完成时间'] ?? ''}`;
    receivedSumFen += receivedFen;
    serviceSumFen += serviceFen;
    // Fees are reported as what the channel charged: positive for a payment's fee, negative
    // when a refund gives part of it back (the bill shows the opposite signs).
    const base = { outTradeNo, channelTradeNo: tradeNo, feeMinor: -serviceFen, currency: 'CNY', occurredAt };
    if (type === '交易') {
      out.push({ ...base, kind: 'payment', amountMinor: orderFen, status: 'SUCCESS' });
    } else if (type === '退款') {
      const outRefundNo = r['退款批次号/请求号'] ?? '';
      if (!outRefundNo) return `${where}: a refund without 退款批次号/请求号`;
      out.push({ ...base, kind: 'refund', amountMinor: receivedFen < 0n ? -receivedFen : receivedFen, outRefundNo, status: 'REFUND' });
    } else {
      // An unknown business type may move money; refusing the bill is safer than dropping a line.
      return `${where}: unknown 业务类型 ${type ?? ''}`;
    }
  }
  return { lines: out, receivedSumFen, serviceSumFen };
}

/** Cross-checks the detail file against the summary file's 合计 row, column by column as printed. */
function checkSummary(lines: readonly string[], detail: Detail): string | undefined {
  const rows = table(lines, '业务汇总列表');
  if (typeof rows === 'string') return rows;
  const total = rows.find((r) => r['门店名称'] === '合计' || r['门店编号'] === '合计');
  if (!total) return 'the 业务汇总 file has no 合计 row';
  const payments = detail.lines.filter((l) => l.kind === 'payment').length;
  const refunds = detail.lines.length - payments;
  if (Number(total['交易订单总笔数']) !== payments || Number(total['退款订单总笔数']) !== refunds) return 'the bill summary counts disagree with its detail lines';
  if (signedFen(total['商家实收（元）']) !== detail.receivedSumFen || signedFen(total['服务费（元）']) !== detail.serviceSumFen) {
    return 'the bill summary amounts disagree with its detail lines';
  }
  return undefined;
}
