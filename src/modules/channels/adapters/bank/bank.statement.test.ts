// Proves the bank statement parser reads details and summaries, keeps payouts out of the contract lines, and refuses files whose summary does not match their records.
import { describe, expect, it } from 'vitest';
import { contractLines, contractTotals, parseBankStatementCsv } from './bank.statement.js';

const csv = [
  'record_type,occurred_at,out_no,bank_no,out_trade_no,bank_trade_no,method,amount,fee,currency,status',
  'PAYMENT,2026-05-01T12:00:01+08:00,P1,B1,P1,B1,QUICK,10000,30,CNY,SUCCESS',
  'REFUND,2026-05-01T12:10:00+08:00,R1,BR1,P1,B1,,3000,0,CNY,SUCCESS',
  'PAYOUT,2026-05-01T12:20:00+08:00,O1,BO1,,,,50000,100,CNY,SUCCESS',
  '',
  'summary_type,count,amount,fee,currency',
  'PAYMENT,1,10000,30,CNY',
  'COLLECTION,0,0,0,CNY',
  'REFUND,1,3000,0,CNY',
  'PAYOUT,1,50000,100,CNY',
  'NET,3,-43000,130,CNY',
  '',
].join('\n');

describe('bank statement', () => {
  it('parses records and summaries; contract lines leave payouts out', () => {
    const r = parseBankStatementCsv(csv);
    if (!r.ok) throw new Error(r.reason);
    expect(r.statement.summary.NET).toEqual({ count: 3, amountMinor: -43000n, feeMinor: 130n });
    const lines = contractLines(r.statement.records);
    expect(lines.map((l) => l.kind)).toEqual(['payment', 'refund']);
    expect(lines[1]).toMatchObject({ outTradeNo: 'P1', channelTradeNo: 'B1', outRefundNo: 'R1', channelRefundNo: 'BR1' });
    expect(contractTotals(lines)).toEqual({ count: 2, amountMinor: 7000n, feeMinor: 30n });
  });

  it('refuses a summary that does not match, a missing summary, and a bad header', () => {
    expect(parseBankStatementCsv(csv.replace('PAYOUT,1,50000,100,CNY', 'PAYOUT,1,5000,100,CNY'))).toMatchObject({ ok: false });
    expect(parseBankStatementCsv(csv.split('\n\n')[0]!)).toMatchObject({ ok: false });
    expect(parseBankStatementCsv(csv.replace('record_type', 'type'))).toMatchObject({ ok: false });
    expect(parseBankStatementCsv(csv.replace('NET,3,-43000,130,CNY\n', ''))).toMatchObject({ ok: false, reason: 'statement summary is incomplete' });
  });
});
