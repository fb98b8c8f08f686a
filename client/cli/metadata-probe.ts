/**
 * Can this machine reach an authorization server's metadata right now? Used by
 * `mcpauthd doctor` only: a refresh that will fail is better found before it
 * is due. The locations and order of the daemon's discovery (shared/as-metadata-urls.ts: MCP
 * authorization spec: RFC 8414 path insertion, then OpenID Connect), HTTPS
 * only except loopback, a short timeout, a bounded body, no redirects. The
 * server's Date header is kept, to tell whether our clock is off.
 */
import { authorizationServerMetadataUrls } from '../../shared/as-metadata-urls.js';
import { readBoundedBody } from '../../shared/bounded-body.js';
import { isLoopbackHost } from '../../shared/loopback.js';

export interface ProbeOptions {
  timeoutMs: number;
  fetchImpl?: typeof fetch;
}

export type ProbeResult =
  | { ok: true; url: string; serverDateMs: number | undefined }
  | { ok: false; kind: ProbeFailure; reason: string; serverDateMs: number | undefined };

/** insecure: refused before any request; network: nothing answered; answer: something answered, but not the metadata. */
export type ProbeFailure = 'insecure' | 'network' | 'answer';

/** Metadata documents are a few KiB; anything this big is not one. */
export const MAX_METADATA_BYTES = 256 * 1024;

/** Why a request failed, in words: undici hides the system error in `cause`. */
function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = e.cause?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed (DNS)',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    CERT_HAS_EXPIRED: 'its TLS certificate has expired',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate cannot be verified',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'it uses a self-signed TLS certificate',
    ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
  };
  if (code !== undefined) return `${words[code] ?? 'network error'} (${code})`;
  return e.cause?.message ?? e.message ?? 'network error';
}

export async function probeAuthorizationServer(issuer: string, options: ProbeOptions): Promise<ProbeResult> {
  const fetchImpl = options.fetchImpl ?? fetch;
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return { ok: false, kind: 'answer', reason: `the issuer ${JSON.stringify(issuer)} is not a URL`, serverDateMs: undefined };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return { ok: false, kind: 'insecure', reason: `the issuer ${issuer} is not https (plain http is allowed only to loopback)`, serverDateMs: undefined };
  }
  let candidates: string[];
  try {
    candidates = authorizationServerMetadataUrls(issuer);
  } catch (err) {
    return { ok: false, kind: 'answer', reason: (err as Error).message, serverDateMs: undefined };
  }
  const answers: string[] = [];
  let serverDateMs: number | undefined;
  for (const candidate of candidates) {
    let response: Response;
    try {
      response = await fetchImpl(candidate, { redirect: 'manual', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (err) {
      // The host itself is unreachable: the other locations are on the same origin.
      return { ok: false, kind: 'network', reason: `${candidate}: ${networkReason(err, options.timeoutMs)}`, serverDateMs };
    }
    const date = Date.parse(response.headers.get('date') ?? '');
    if (Number.isFinite(date)) serverDateMs = date;
    if (response.status !== 200) {
      await response.body?.cancel();
      answers.push(`${candidate}: HTTP ${response.status}`);
      continue;
    }
    let document: unknown;
    try {
      const read = await readBoundedBody(response, MAX_METADATA_BYTES);
      if (!read.ok) throw new Error(`the document is larger than ${MAX_METADATA_BYTES} bytes`);
      document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read.body));
    } catch (err) {
      answers.push(`${candidate}: not JSON metadata (${(err as Error).message.slice(0, 100)})`);
      continue;
    }
    const named = (document as { issuer?: unknown } | null)?.issuer;
    if (named !== issuer) {
      answers.push(`${candidate}: names issuer ${JSON.stringify(named)}, not ${issuer}`);
      continue;
    }
    return { ok: true, url: candidate, serverDateMs };
  }
  return { ok: false, kind: 'answer', reason: answers.join('; '), serverDateMs };
}
