/**
 * Sends an adapter's request. The one place channel I/O happens: a bounded timeout, a bounded
 * response size, and no retries — a request that got no complete answer is reported as `lost`
 * and the caller treats the outcome as unknown (DESIGN.md §4), asking the channel later.
 */
import { httpSend } from '../../kernel/http-client.js';
import type { HttpRequestSpec, HttpResponseData } from './adapter.js';

export type ExecResult = { ok: true; response: HttpResponseData } | { ok: false; lost: true; reason: string };

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export async function sendChannelRequest(req: HttpRequestSpec, opts: { timeoutMs: number }): Promise<ExecResult> {
  const r = await httpSend({ url: req.url, method: req.method, headers: req.headers, body: req.body, timeoutMs: opts.timeoutMs, maxBytes: MAX_RESPONSE_BYTES });
  if (!r.ok) return { ok: false, lost: true, reason: r.reason };
  const { status, headers, bytes } = r.answer;
  return { ok: true, response: { status, headers, body: bytes.toString('utf8'), bytes } };
}
