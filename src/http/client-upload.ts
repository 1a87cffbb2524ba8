/**
 * Upload URLs and request externalization: a request over the server's
 * `maxRequestBytes` is PUT to a URL the server vends and sent as an
 * external-location pointer, as the reference client does.
 */
import { ProtocolError, RpcError } from "../errors.js";
import { decodeStreamSync, encodeStream } from "../wire/ipc.js";
import { makePointer } from "../external/pointer.js";
import { ARROW_CONTENT_TYPE } from "./headers.js";
import { UPLOAD_URL_METHOD, readUploadUrls, uploadUrlRequest, type UploadUrl } from "./upload-urls.js";
import type { ArrowBody } from "./client-body.js";
import type { HttpCapabilities } from "./client-capabilities.js";

/** What uploads need of the transport. */
export interface UploadIO {
  /** `{baseUrl}{prefix}` of the server's routes. */
  readonly root: string;
  send<T>(url: string, init: RequestInit, read: (res: Response) => Promise<T>, signal?: AbortSignal): Promise<T>;
  userHeaders(): Promise<Headers>;
  arrowBody(res: Response): Promise<ArrowBody>;
}

/**
 * Whether a body of `size` bytes (uncompressed: the server caps the decoded
 * size too) should go through an upload URL, by the capabilities: the server
 * caps requests below `size` and vends upload URLs.
 */
export function overUploadCap(caps: HttpCapabilities | undefined, size: number): boolean {
  return !!caps?.uploadUrlSupport && caps.maxRequestBytes !== undefined && size > caps.maxRequestBytes;
}

/**
 * Ask the server for `count` (1..100) pre-signed upload/download URL pairs
 * (`POST {prefix}/__upload_url__/init`). Fails with `RpcError`
 * (`NotSupported`) when the server vends none.
 */
export async function fetchUploadUrls(io: UploadIO, count: number, signal?: AbortSignal): Promise<UploadUrl[]> {
  const url = `${io.root}/${UPLOAD_URL_METHOD}/init`;
  const headers = await io.userHeaders();
  headers.set("Content-Type", ARROW_CONTENT_TYPE);
  const request = uploadUrlRequest(count);
  const init = { method: "POST", headers, body: encodeStream(request.schema, [request]) as BodyInit };
  const body = await io.send(
    url,
    init,
    async (res) => {
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        throw new RpcError({ errorType: "NotSupported", message: "NotSupported: Server does not support upload URLs" });
      }
      return io.arrowBody(res);
    },
    signal,
  );
  const reader = await body.first();
  const batch = await body.data(reader);
  if (batch) await body.drain(reader);
  return batch ? readUploadUrls(batch) : [];
}

/** Upload `body` (an IPC stream of one batch) to a vended URL; the pointer body to send instead. */
export async function externalize(io: UploadIO, body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  const [pair] = await fetchUploadUrls(io, 1, signal);
  if (!pair) throw new ProtocolError("the server returned no upload URL");
  const init = { method: "PUT", headers: { "Content-Type": ARROW_CONTENT_TYPE }, body: body as BodyInit };
  const put = await io.send(
    pair.uploadUrl,
    init,
    async (res) => {
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    },
    signal,
  );
  if (put < 200 || put >= 300) {
    throw new RpcError({ errorType: "ExternalUploadFailed", message: `ExternalUploadFailed: PUT to upload URL failed: HTTP ${put}` });
  }
  const { schema, batches } = decodeStreamSync(body);
  const batch = batches[0];
  if (!batch) throw new ProtocolError("cannot externalize a request without a batch");
  return encodeStream(schema, [makePointer(schema, pair.downloadUrl, batch.metadata)]);
}
