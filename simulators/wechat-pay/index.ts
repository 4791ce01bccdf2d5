/** The WeChat Pay APIv3 simulator's public surface. */
export { startWechatPaySimulator, type WechatPaySimulator, type WechatPaySimulatorOptions } from './wechat-pay.simulator.js';
export {
  createWechatPayTestAccount,
  generatePlatformIdentity,
  type PlatformIdentity,
  type WechatPayAccountConfig,
  type WechatPayMerchant,
  type WechatPayTestAccount,
} from './wechat-pay.keys.js';
