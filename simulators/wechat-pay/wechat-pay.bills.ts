/**
 * Bill routes of the simulated APIv3 (申请交易账单 / 下载账单):
 *
 *   GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL[&tar_type=GZIP]
 *       → 200 {"hash_type": "SHA1", "hash_value": "<sha1 of the uncompressed file>", "download_url": "…"}
 *       | 400 NO_STATEMENT_EXIST (no trade or refund that day)
 *   GET /v3/billdownload/file?token=…   (signed by the merchant like any request)
 *       → 200 the file bytes, without Wechatpay-* signature headers (WeChat documents that the
 *         download answer is not signed; the hash from the first call protects it)
 *
 * WeChat builds a day's bill after 10:00 the next day and answers STATEMENT_CREATING before that;
 * the simulator builds it on demand from its current state (today's included) so tests need not
 * wait a day. A download URL is valid for five minutes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { answer, fail, guarded, type SimContext } from './wechat-pay.context.js';
import { buildTradeBill, type BillType } from './wechat-pay.statement.js';
import { chinaDate } from './wechat-pay.time.js';

const DOWNLOAD_VALID_MS = 5 * 60_000;
const BILL_TYPES: readonly BillType[] = ['ALL', 'SUCCESS', 'REFUND'];
/** Bills can be requested for three months back. */
const MAX_AGE_DAYS = 92;

type Query = { Querystring: Record<string, string | undefined> };

function isCalendarDate(d: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;
}

export function registerBillRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.get<Query>('/v3/bill/tradebill', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      const date = req.query['bill_date'] ?? '';
      const type = (req.query['bill_type'] ?? 'ALL') as BillType;
      const tar = req.query['tar_type'];
      if (!isCalendarDate(date)) return fail(ctx, reply, 400, 'PARAM_ERROR', 'bill_date 格式应为 yyyy-MM-dd');
      if (!BILL_TYPES.includes(type)) return fail(ctx, reply, 400, 'PARAM_ERROR', 'bill_type 取值应为 ALL、SUCCESS 或 REFUND');
      if (tar !== undefined && tar !== 'GZIP') return fail(ctx, reply, 400, 'PARAM_ERROR', 'tar_type 仅支持 GZIP');
      const today = chinaDate(new Date());
      if (date > today) return fail(ctx, reply, 400, 'PARAM_ERROR', 'bill_date 不能晚于当前日期');
      if (Date.parse(today) - Date.parse(date) > MAX_AGE_DAYS * 86_400_000) return fail(ctx, reply, 400, 'INVALID_REQUEST', '仅支持下载三个月内的账单');
      const bytes = buildTradeBill(ctx.state, m.merchant, date, type, ctx.feeRateBps);
      if (!bytes) return fail(ctx, reply, 400, 'NO_STATEMENT_EXIST', '请求的账单文件不存在');
      const token = randomBytes(36).toString('base64url');
      ctx.bills.set(token, { bytes, mchid: m.merchant.mchid, expiresAtMs: Date.now() + DOWNLOAD_VALID_MS, gzip: tar === 'GZIP' });
      return answer(ctx, reply, 200, {
        hash_type: 'SHA1',
        hash_value: createHash('sha1').update(bytes).digest('hex'),
        download_url: `${ctx.url()}/v3/billdownload/file?token=${token}`,
      });
    }),
  );

  app.get<Query>('/v3/billdownload/file', (req, reply) =>
    guarded(ctx, req, reply, false, (m) => {
      const bill = ctx.bills.get(req.query['token'] ?? '');
      if (!bill || bill.mchid !== m.merchant.mchid || bill.expiresAtMs < Date.now()) return fail(ctx, reply, 400, 'INVALID_REQUEST', '下载链接无效或已过期，请重新申请账单');
      return reply.code(200).header('Content-Type', 'application/octet-stream').send(bill.gzip ? gzipSync(bill.bytes) : bill.bytes);
    }),
  );
}
