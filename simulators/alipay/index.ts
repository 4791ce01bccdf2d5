/** The Alipay OpenAPI simulator's public surface. */
export { startAlipaySimulator, type AlipaySimulatorOptions, type RunningAlipaySimulator } from './alipay.simulator.js';
export { createAlipayTestAccount, type AlipayAccountConfigJson, type AlipayAppRegistration, type AlipayTestAccount } from './alipay.accounts.js';
export type { TradeView as AlipayTradeView } from './alipay.view.js';
