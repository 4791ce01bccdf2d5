/** The UnionPay QR (全渠道 ACP 5.1.0) simulator: start it, and make merchants for it. */
export { startUnionPaySimulator, type RunningUnionPaySimulator, type UnionPaySimulatorOptions } from './unionpay.simulator.js';
export { createUnionPayPlatform, createUnionPayTestAccount, type UnionPayMerchant, type UnionPayPlatform } from './unionpay.pki.js';
