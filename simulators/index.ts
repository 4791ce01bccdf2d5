/**
 * All four channel simulators at once, each with one freshly generated merchant account
 * registered, and the channel-account configuration Paycore needs for it (`paycore sim` prints
 * these; end-to-end tests use them). Loopback only.
 */
import { createAlipayTestAccount, startAlipaySimulator } from './alipay/index.js';
import { createBankTestAccount, startBankSimulator } from './bank/index.js';
import type { RunningSimulator } from './common/types.js';
import { createUnionPayTestAccount, startUnionPaySimulator } from './unionpay/index.js';
import { createWechatPayTestAccount, startWechatPaySimulator } from './wechat-pay/index.js';

export interface SimulatedChannel {
  provider: 'wechatpay' | 'alipay' | 'unionpay' | 'bank';
  sim: RunningSimulator;
  /** The `config` of a Paycore channel account for this simulator's merchant. */
  config: unknown;
  methods: string[];
}

export interface Simulators {
  wechatpay: SimulatedChannel;
  alipay: SimulatedChannel;
  unionpay: SimulatedChannel;
  bank: SimulatedChannel & { agreementNo: string };
  close(): Promise<void>;
}

/** Starts the simulators on `basePort`..`basePort+3` (0: any free ports). */
export async function startSimulators(opts: { basePort?: number; seed?: number; notifyRetryScheduleMs?: number[] } = {}): Promise<Simulators> {
  const port = (i: number): number => (opts.basePort ? opts.basePort + i : 0);
  const started: RunningSimulator[] = [];
  try {
    const wx = await startWechatPaySimulator({ port: port(0), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.notifyRetryScheduleMs ? { notifyRetryScheduleMs: opts.notifyRetryScheduleMs } : {}) });
    started.push(wx);
    const wxAcct = await createWechatPayTestAccount({ baseUrl: wx.url, platformCertificatePem: wx.platformCertificatePem });
    wx.registerMerchant(wxAcct.merchant);
    const ali = await startAlipaySimulator({ port: port(1), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.notifyRetryScheduleMs ? { notifyRetryScheduleMs: opts.notifyRetryScheduleMs } : {}) });
    started.push(ali);
    const aliAcct = createAlipayTestAccount(ali);
    ali.registerApp(aliAcct.registration);
    const up = await startUnionPaySimulator({ port: port(2), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
    started.push(up);
    const upAcct = await createUnionPayTestAccount({ baseUrl: up.url, trust: up.trust });
    up.registerMerchant(upAcct.merchant);
    const bank = await startBankSimulator({ port: port(3), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
    started.push(bank);
    const bankAcct = await createBankTestAccount({ baseUrl: bank.url, bankKey: bank.bankKey });
    bank.registerMerchant(bankAcct.merchant);
    return {
      wechatpay: { provider: 'wechatpay', sim: wx, config: wxAcct.config, methods: ['wechat_native', 'wechat_jsapi'] },
      alipay: { provider: 'alipay', sim: ali, config: aliAcct.config, methods: ['alipay_qr', 'alipay_page'] },
      unionpay: { provider: 'unionpay', sim: up, config: upAcct.config, methods: ['unionpay_qr'] },
      bank: { provider: 'bank', sim: bank, config: bankAcct.config, methods: ['bank_quick', 'bank_gateway'], agreementNo: bankAcct.activeAgreementNo },
      async close() {
        for (const s of started) await s.close();
      },
    };
  } catch (e) {
    for (const s of started) await s.close().catch(() => undefined);
    throw e;
  }
}
