/**
 * Wiring to the reference's fake object storage (`python -m
 * vgi_rpc.conformance.fake_storage`), for the conformance worker and tests:
 * an upload-URL provider and the URL policies of the reference's fixtures.
 */
import type { UploadUrlProvider } from "../src/http/upload-urls.js";

/** Upload URLs from the reference's fake storage service: `POST {base}/alloc` vends a PUT/GET pair. */
export function fakeStorageProvider(base: string): UploadUrlProvider {
  return {
    async generateUploadUrl() {
      const res = await fetch(`${base}/alloc`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      if (!res.ok) throw new Error(`fake storage /alloc failed: HTTP ${res.status}`);
      const pair = (await res.json()) as { upload_url?: string; download_url?: string; object_url?: string };
      const uploadUrl = pair.upload_url ?? pair.object_url;
      const downloadUrl = pair.download_url ?? pair.object_url;
      if (!uploadUrl || !downloadUrl) throw new Error("fake storage /alloc returned no URLs");
      return { uploadUrl, downloadUrl, expiresAt: new Date(Date.now() + 3600_000) };
    },
  };
}

/** Fake storage lives on loopback: allow plain-HTTP loopback URLs and nothing else (narrower than no policy). */
export const loopbackOnly = (url: string): void => {
  const u = new URL(url);
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`refusing non-HTTP external location URL (${u.protocol})`);
  if (!["127.0.0.1", "[::1]", "localhost"].includes(u.hostname)) throw new Error(`refusing non-loopback external location URL (host ${u.hostname})`);
};

/** The external-security fixture's host policy: 127.0.0.1 only (so a redirect to `localhost` is refused). */
export const onlyLoopbackIp = (url: string): void => {
  if (new URL(url).hostname !== "127.0.0.1") throw new Error("external-security fixture permits only 127.0.0.1");
};
