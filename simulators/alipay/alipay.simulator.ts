/**
 * The Alipay OpenAPI simulator: the gateway (/gateway.do), the bill download host, the pages a
 * payer sees, and the /__sim control endpoints. Loopback only. Fault knobs apply to every gateway
 * and bill-download request; money-moving methods (precreate, page.pay, refund) can also be
 * declined or get an unknown outcome.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createRandom, decideFault, NO_FAULTS, updateFaults, type Faults } from '../common/faults.js';
import { Notifier, type NotificationAttempt } from '../common/notifier.js';
import type { RunningSimulator } from '../common/types.js';
import { publicKeyBase64, rsaKeyPair, type AlipayAppRegistration } from './alipay.accounts.js';
import { beijingDate } from './alipay.crypto.js';
import { handleGateway, MONEY_MOVING, UNAVAILABLE, type Decision, type GatewayDeps, type RegisteredApp } from './alipay.gateway.js';
import { buildNotification } from './alipay.notify.js';
import { cashierPage, errorPage, qrPage } from './alipay.pages.js';
import { AlipayState, businessError, OK, type TradeEvent } from './alipay.state.js';
import { buildBillZip } from './alipay.statement.js';
import { registerControl } from './alipay.control.js';

export interface AlipaySimulatorOptions {
  port?: number;
  host?: '127.0.0.1';
  seed?: number;
  /** Merchant apps known from the start (more can be added with registerApp). */
  apps?: readonly AlipayAppRegistration[];
  /** Alipay's own private key (PEM); generated when absent. */
  alipayPrivateKey?: string;
  /** Service fee (服务费) rate in basis points; Alipay's standard rate is 0.6 % (60). */
  feeRateBp?: number;
  /** Alipay offers a day's bill only from the next morning; true (default) lets tests fetch today's. */
  sameDayBills?: boolean;
  notifyRetryScheduleMs?: readonly number[];
  /** How far a request timestamp may be from the simulator's clock. */
  timestampWindowMs?: number;
}

export interface RunningAlipaySimulator extends RunningSimulator {
  /** `${url}/gateway.do`, what the adapter config calls gatewayUrl. */
  gatewayUrl: string;
  /** Alipay's public key (支付宝公钥) as base64 SubjectPublicKeyInfo. */
  alipayPublicKey: string;
  registerApp(app: AlipayAppRegistration): void;
  notifications(): readonly NotificationAttempt[];
}

/** What one protocol request answers, before faults decide whether the caller sees it. */
interface Answer {
  status: number;
  type: string;
  body: string | Buffer;
  events: readonly TradeEvent[];
}

const HOLD_MS = 30_000;
const BILL_LINK_MS = 30_000;

function readPublicKey(text: string): KeyObject {
  return text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
}

/** The simulator's moving parts, shared by the protocol routes and the control routes. */
export class SimCore {
  baseUrl = '';
  faults: Faults = { ...NO_FAULTS };
  readonly apps = new Map<string, RegisteredApp>();
  readonly state: AlipayState;
  readonly notifier: Notifier;
  readonly alipayPrivateKey: KeyObject;
  private readonly rnd: () => number;
  private readonly billLinks = new Map<string, { pid: string; date: string; expiresAtMs: number }>();
  private readonly held = new Set<{ timer: NodeJS.Timeout; socket: Socket }>();

  constructor(private readonly opts: AlipaySimulatorOptions) {
    const seed = opts.seed ?? (Date.now() >>> 0);
    this.rnd = createRandom(seed);
    const idRnd = createRandom(seed ^ 0x5bd1e995);
    const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(idRnd() * 10))).join('');
    this.alipayPrivateKey = opts.alipayPrivateKey ? createPrivateKey(opts.alipayPrivateKey) : rsaKeyPair().privateKey;
    this.state = new AlipayState(
      {
        tradeNo: (at) => `${beijingDate(at).replace(/-/g, '')}22001${digits(15)}`,
        qrCode: () => `${this.baseUrl}/qr/bax0${digits(6)}${Math.floor(idRnd() * 36 ** 6).toString(36)}`,
      },
      opts.feeRateBp ?? 60,
    );
    const notifierOpts: ConstructorParameters<typeof Notifier>[0] = { faults: () => this.faults, acknowledged: (_status, body) => body === 'success' };
    if (opts.notifyRetryScheduleMs) notifierOpts.retryScheduleMs = opts.notifyRetryScheduleMs;
    this.notifier = new Notifier(notifierOpts);
    for (const a of opts.apps ?? []) this.registerApp(a);
  }

  registerApp(a: AlipayAppRegistration): void {
    this.apps.set(a.appId, { appId: a.appId, pid: a.pid, publicKey: readPublicKey(a.appPublicKey) });
  }

  announce(events: readonly TradeEvent[]): void {
    for (const ev of events) {
      const n = buildNotification(ev, this.alipayPrivateKey, this.faults, new Date());
      if (n) this.notifier.send(n);
    }
  }

  gatewayDeps(): GatewayDeps {
    return { apps: this.apps, alipayPrivateKey: this.alipayPrivateKey, state: this.state, timestampWindowMs: this.opts.timestampWindowMs ?? 15 * 60_000, billLink: (app, biz, now) => this.billLink(app, biz, now) };
  }

  /** alipay.data.dataservice.bill.downloadurl.query: a pre-signed link that lives 30 seconds. */
  private billLink(app: RegisteredApp, biz: Record<string, unknown>, now: Date): Record<string, unknown> {
    const date = biz['bill_date'];
    if (biz['bill_type'] !== 'trade') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-parameter', sub_msg: '模拟器仅支持 bill_type=trade' };
    if (typeof date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
      return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-parameter', sub_msg: '参数无效: bill_date' };
    }
    const today = beijingDate(now);
    if (date > today || (date === today && this.opts.sameDayBills === false)) return businessError('isp.bill_not_exist', '账单不存在');
    const token = randomBytes(16).toString('hex');
    this.billLinks.set(token, { pid: app.pid, date, expiresAtMs: now.getTime() + BILL_LINK_MS });
    const compact = date.replace(/-/g, '');
    const q = new URLSearchParams({ bizType: 'trade', userId: app.pid, fileType: 'csv.zip', bizDates: compact, downloadFileName: `${app.pid}_${compact}.csv.zip`, fileId: token, timestamp: String(Math.floor(now.getTime() / 1000)) });
    return { ...OK, bill_download_url: `${this.baseUrl}/downloadBillFile.resource?${q.toString()}` };
  }

  bill(fileId: string): Answer {
    const link = this.billLinks.get(fileId);
    if (!link || link.expiresAtMs < Date.now()) return { status: 403, type: 'text/plain;charset=utf-8', body: 'the bill download link is unknown or expired (links live 30 seconds)', events: [] };
    return { status: 200, type: 'application/octet-stream', body: Buffer.from(buildBillZip(this.state.all(), link.pid, link.date, new Date())), events: [] };
  }

  /** Applies latency, timeouts, 5xx and unknown outcomes around one protocol request. */
  async withFaults(req: FastifyRequest, reply: FastifyReply, moneyMoving: boolean, run: (d: Decision) => Answer): Promise<void> {
    const f = this.faults;
    const decision = decideFault(f, this.rnd, moneyMoving);
    if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (decision === 'timeout') return this.hold(req, reply);
    if (decision === 'server_error') return void reply.code(500).type('text/html;charset=utf-8').send('<html><body><h1>500 Internal Server Error</h1></body></html>');
    const out = run(decision === 'unknown_outcome' ? 'normal' : decision);
    this.announce(out.events);
    if (decision !== 'unknown_outcome') return void reply.code(out.status).type(out.type).send(out.body);
    // Applied, but the caller never learns it: half the time a 5xx, half the time a dropped connection.
    if (this.rnd() < 0.5) return void reply.code(502).type('text/html;charset=utf-8').send('<html><body><h1>502 Bad Gateway</h1></body></html>');
    reply.hijack();
    req.raw.socket.destroy();
  }

  /** Holds the request past any client timeout, then drops the connection. */
  private hold(req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const socket = req.raw.socket;
    const entry = { socket, timer: setTimeout(() => socket.destroy(), HOLD_MS) };
    this.held.add(entry);
    socket.once('close', () => {
      clearTimeout(entry.timer);
      this.held.delete(entry);
    });
  }

  reset(): void {
    this.state.reset();
    this.billLinks.clear();
    this.notifier.attempts.splice(0);
    this.faults = { ...NO_FAULTS };
  }

  stop(): void {
    this.notifier.stop();
    for (const h of this.held) {
      clearTimeout(h.timer);
      h.socket.destroy();
    }
    this.held.clear();
  }
}

function registerProtocol(app: FastifyInstance, core: SimCore): void {
  const pages = {
    error: errorPage,
    cashier: (outTradeNo: string) => {
      const t = core.state.findAny(outTradeNo);
      return t ? cashierPage(t) : errorPage('TRADE_NOT_EXIST', '交易不存在');
    },
  };
  app.route({
    method: ['GET', 'POST'],
    url: '/gateway.do',
    handler: async (req, reply) => {
      // Like Alipay's gateway, parameters may come in the query string, the form body, or both.
      const params: Record<string, string> = {};
      for (const [k, v] of new URL(req.url, 'http://sim').searchParams) if (!(k in params)) params[k] = v;
      if (typeof req.body === 'string') for (const [k, v] of new URLSearchParams(req.body)) params[k] = v;
      await core.withFaults(req, reply, MONEY_MOVING.has(params['method'] ?? ''), (d) => {
        core.announce(core.state.sweep(new Date()));
        const a = handleGateway(core.gatewayDeps(), params, d, new Date(), pages);
        return { status: 200, type: a.contentType, body: a.body, events: a.events };
      });
    },
  });
  app.get('/downloadBillFile.resource', async (req, reply) => {
    const fileId = new URL(req.url, 'http://sim').searchParams.get('fileId') ?? '';
    await core.withFaults(req, reply, false, (d) => (d === 'maintenance' ? { status: 503, type: 'application/json;charset=utf-8', body: JSON.stringify(UNAVAILABLE), events: [] } : core.bill(fileId)));
  });
  app.get('/qr/:code', async (req, reply) => {
    const code = `${core.baseUrl}/qr/${(req.params as { code: string }).code}`;
    const t = core.state.all().find((x) => x.qrCode === code);
    return reply.type('text/html;charset=utf-8').code(t ? 200 : 404).send(t ? qrPage(t) : errorPage('TRADE_NOT_EXIST', '二维码无效'));
  });
}

export async function startAlipaySimulator(opts: AlipaySimulatorOptions = {}): Promise<RunningAlipaySimulator> {
  const core = new SimCore(opts);
  const sweep = setInterval(() => core.announce(core.state.sweep(new Date())), 200);
  sweep.unref();
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  registerProtocol(app, core);
  registerControl(app, core);

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the Alipay simulator did not get a TCP address');
  core.baseUrl = `http://127.0.0.1:${addr.port}`;

  return {
    url: core.baseUrl,
    gatewayUrl: `${core.baseUrl}/gateway.do`,
    alipayPublicKey: publicKeyBase64(createPublicKey(core.alipayPrivateKey)),
    registerApp: (a) => core.registerApp(a),
    notifications: () => core.notifier.attempts,
    faults: () => ({ ...core.faults }),
    setFaults(patch) {
      const r = updateFaults(core.faults, patch);
      if (!r.ok) throw new Error(r.message);
      core.faults = r.faults;
    },
    async close() {
      clearInterval(sweep);
      core.stop();
      await app.close();
    },
  };
}
