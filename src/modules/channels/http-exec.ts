/**
 * Sends an adapter's request. The one place channel I/O happens: a bounded timeout, a bounded
 * response size, and no retries but the stale-socket one — a request that got no complete answer is reported as `lost`
 * and the caller treats the outcome as unknown (DESIGN.md §4), asking the channel later.
 */
import { httpSend } from '../../kernel/http-client.js';
import type { HttpRequestSpec, HttpResponseData } from './adapter.js';

/** `queued`: no connection was free in time — our own congestion, not the channel's. */
export type ExecResult = { ok: true; response: HttpResponseData } | { ok: false; lost: true; reason: string; queued: boolean };

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export async function sendChannelRequest(req: HttpRequestSpec, opts: { timeoutMs: number }): Promise<ExecResult> {
  // Every channel request names its own trade or refund number, which the channel de-duplicates:
  // sending it again after a stale keep-alive socket is safe.
  const r = await httpSend({ url: req.url, method: req.method, headers: req.headers, body: req.body, timeoutMs: opts.timeoutMs, maxBytes: MAX_RESPONSE_BYTES, idempotent: true });
  if (!r.ok) return { ok: false, lost: true, reason: r.reason, queued: r.stage === 'queued' };
  const { status, headers, bytes } = r.answer;
  return { ok: true, response: { status, headers, body: bytes.toString('utf8'), bytes } };
}
