/** The adapter of each provider. Adding a provider is one line here plus its adapter directory. */
import type { ChannelAdapter, ChannelProvider } from './adapter.js';
import { alipayAdapter } from './adapters/alipay/alipay.adapter.js';
import { bankAdapter } from './adapters/bank/bank.adapter.js';
import { unionPayAdapter } from './adapters/unionpay/unionpay.adapter.js';
import { wechatPayAdapter } from './adapters/wechat-pay/wechat-pay.adapter.js';

export const ADAPTERS: Readonly<Record<ChannelProvider, ChannelAdapter<unknown>>> = {
  wechatpay: wechatPayAdapter as ChannelAdapter<unknown>,
  alipay: alipayAdapter as ChannelAdapter<unknown>,
  unionpay: unionPayAdapter as ChannelAdapter<unknown>,
  bank: bankAdapter as ChannelAdapter<unknown>,
};

/** Ledger subject of the receivable from each provider (DESIGN.md §3 "channel receivable"). */
export const RECEIVABLE_SUBJECT: Readonly<Record<ChannelProvider, string>> = {
  wechatpay: '113101',
  alipay: '113102',
  unionpay: '113103',
  bank: '113104',
};
