/**
 * Sends an adapter's request. The one place channel I/O happens: a bounded timeout, a bounded
 * response size, and no retries — a request that got no complete answer is reported as `lost`
 * and the caller treats the outcome as unknown (DESIGN.md §4), asking the channel later.
 */
import type { HttpRequestSpec, HttpResponseData } from './adapter.js';

export type ExecResult = { ok: true; response: HttpResponseData } | { ok: false; lost: true; reason: string };

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export async function sendChannelRequest(req: HttpRequestSpec, opts: { timeoutMs: number }): Promise<ExecResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs);
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }), signal: ac.signal, redirect: 'manual' });
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_RESPONSE_BYTES) {
          ac.abort();
          return { ok: false, lost: true, reason: `response larger than ${MAX_RESPONSE_BYTES} bytes` };
        }
        chunks.push(chunk);
      }
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    const bytes = Buffer.concat(chunks);
    return { ok: true, response: { status: res.status, headers, body: bytes.toString('utf8'), bytes } };
  } catch (e) {
    const reason = ac.signal.aborted ? `no answer within ${opts.timeoutMs} ms` : `connection failed: ${(e as Error).message}`;
    return { ok: false, lost: true, reason };
  } finally {
    clearTimeout(timer);
  }
}
