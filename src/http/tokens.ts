/**
 * Stream state tokens for the stateless HTTP transport: a per-turn cursor
 * token and a per-call token minted once at `/init`, both sealed with
 * XChaCha20-Poly1305 under the server's key and bound (through the AAD) to
 * the caller's identity and to the protocol and method that issued them, so
 * a token from one stream method is refused on another's `/exchange`. Any process holding the same key
 * can continue any stream. The structure follows the reference; the bytes
 * are only ever opened by servers of this implementation.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { deflateSync, inflateSync } from "fflate";
import { decompress as zstdDecompress } from "fzstd";

export const CURSOR_VERSION = 5;
export const CALL_VERSION = 2;
const NONCE = 24;
const TAG = 16;
const CODEC_RAW = 0x00;
const CODEC_ZSTD = 0x01;
const CODEC_DEFLATE = 0x02;
const MAX_PLAINTEXT = 64 * 1024 * 1024;

/** A token that cannot be opened, is malformed, or has expired (HTTP 400). */
export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** A 32-byte key from raw bytes (used as is) or any other secret (SHA-256 of it). */
export function normalizeKey(key: Uint8Array | string): Uint8Array {
  const bytes = typeof key === "string" ? enc.encode(key) : key;
  return bytes.byteLength === 32 ? bytes : sha256(bytes);
}

/** Who a token is bound to: anonymous, or an authenticated principal in a domain. */
export interface TokenIdentity {
  authenticated: boolean;
  domain: string;
  principal: string;
}

/** The protocol and method a token belongs to (sealed into its AAD). */
export interface TokenScope {
  protocol: string;
  method: string;
}

function aad(prefix: string, who: TokenIdentity, scope: TokenScope): Uint8Array {
  const tail = who.authenticated ? `\x01${who.domain}\x00${who.principal}` : "\x00anonymous";
  return enc.encode(`${prefix}\x00${tail}\x00${scope.protocol}\x00${scope.method}`);
}

const cursorAad = (who: TokenIdentity, scope: TokenScope) => aad("vgi_rpc.state.v6", who, scope);
const callAad = (who: TokenIdentity, scope: TokenScope) => aad("vgi_rpc.call.v3", who, scope);

function seal(key: Uint8Array, version: number, plaintext: Uint8Array, ad: Uint8Array): string {
  let payload: Uint8Array;
  const packed = plaintext.byteLength > 64 ? deflateSync(plaintext, { level: 6 }) : null;
  if (packed && packed.byteLength + 1 < plaintext.byteLength + 1) {
    payload = new Uint8Array(1 + packed.byteLength);
    payload[0] = CODEC_DEFLATE;
    payload.set(packed, 1);
  } else {
    payload = new Uint8Array(1 + plaintext.byteLength);
    payload[0] = CODEC_RAW;
    payload.set(plaintext, 1);
  }
  const nonce = new Uint8Array(NONCE);
  globalThis.crypto.getRandomValues(nonce);
  const ct = xchacha20poly1305(key, nonce, ad).encrypt(payload);
  const out = new Uint8Array(1 + NONCE + ct.byteLength);
  out[0] = version;
  out.set(nonce, 1);
  out.set(ct, 1 + NONCE);
  return toBase64(out);
}

function open(key: Uint8Array, version: number, token: string, ad: Uint8Array, what: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = fromBase64(token);
  } catch {
    throw new TokenError(`Malformed ${what}`);
  }
  if (raw.byteLength < 1 + NONCE + TAG + 1 || raw[0] !== version) throw new TokenError(`${capital(what)} signature verification failed`);
  let payload: Uint8Array;
  try {
    payload = xchacha20poly1305(key, raw.subarray(1, 1 + NONCE), ad).decrypt(raw.subarray(1 + NONCE));
  } catch {
    throw new TokenError(`${capital(what)} signature verification failed`);
  }
  const body = payload.subarray(1);
  try {
    switch (payload[0]) {
      case CODEC_RAW:
        return body;
      case CODEC_DEFLATE: {
        const out = inflateSync(body);
        if (out.byteLength > MAX_PLAINTEXT) throw new Error("too large");
        return out;
      }
      case CODEC_ZSTD:
        return zstdDecompress(body);
      default:
        throw new Error(`unknown codec ${payload[0]}`);
    }
  } catch (e) {
    throw new TokenError(`Malformed token payload: ${(e as Error).message}`);
  }
}

const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------
// plaintext framing

class Writer {
  private parts: Uint8Array[] = [];
  u64(n: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
    this.parts.push(b);
    return this;
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  bytes(b: Uint8Array): this {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.byteLength, true);
    this.parts.push(len, b);
    return this;
  }
  str(s: string): this {
    return this.bytes(enc.encode(s));
  }
  done(): Uint8Array {
    let n = 0;
    for (const p of this.parts) n += p.byteLength;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

class Reader {
  private at = 0;
  private readonly view: DataView;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number) {
    if (this.at + n > this.buf.byteLength) throw new TokenError(`Malformed ${this.what}: truncated`);
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return Number(v);
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  bytes(): Uint8Array {
    this.need(4);
    const n = this.view.getUint32(this.at, true);
    this.at += 4;
    return this.raw(n);
  }
  str(): string {
    return dec.decode(this.bytes());
  }
  end() {
    if (this.at !== this.buf.byteLength) throw new TokenError(`Malformed ${this.what}: trailing bytes`);
  }
}

// ---------------------------------------------------------------------------
// the two tokens

/** The fixed facts of one stream call, sealed once at `/init`. */
export interface CallToken {
  createdAt: number;
  callId: Uint8Array;
  /** Serialized call-level state (opaque to the token). */
  callState: Uint8Array;
  callStateType: string;
  outputSchema: Uint8Array;
  inputSchema: Uint8Array;
  streamId: string;
  /** Response budget sealed at init (0 = unbounded). */
  responseLimit: number;
}

/** The per-turn cursor: the serialized stream state. */
export interface CursorToken {
  createdAt: number;
  callId: Uint8Array;
  state: Uint8Array;
}

export interface TokenOptions {
  /** The 32-byte key, or a function giving it (called once, on the first seal or open). */
  key: Uint8Array | (() => Uint8Array);
  /** Seconds a token stays valid; 0 disables expiry. */
  ttl: number;
  now?: () => number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class TokenSealer {
  private readonly now: () => number;
  private keyValue: Uint8Array | undefined;
  constructor(private readonly options: TokenOptions) {
    this.now = options.now ?? nowSeconds;
    if (typeof options.key !== "function") this.keyValue = options.key;
  }

  private get key(): Uint8Array {
    return (this.keyValue ??= (this.options.key as () => Uint8Array)());
  }

  newCallId(): Uint8Array {
    const id = new Uint8Array(16);
    globalThis.crypto.getRandomValues(id);
    return id;
  }

  sealCall(t: Omit<CallToken, "createdAt">, who: TokenIdentity, scope: TokenScope): string {
    const plain = new Writer()
      .u64(this.now())
      .raw(t.callId)
      .bytes(t.callState)
      .str(t.callStateType)
      .bytes(t.outputSchema)
      .bytes(t.inputSchema)
      .str(t.streamId)
      .u64(t.responseLimit)
      .done();
    return seal(this.key, CALL_VERSION, plain, callAad(who, scope));
  }

  openCall(token: string, who: TokenIdentity, scope: TokenScope): CallToken {
    const r = new Reader(open(this.key, CALL_VERSION, token, callAad(who, scope), "call token"), "call token");
    const t: CallToken = {
      createdAt: r.u64(),
      callId: r.raw(16),
      callState: r.bytes(),
      callStateType: r.str(),
      outputSchema: r.bytes(),
      inputSchema: r.bytes(),
      streamId: r.str(),
      responseLimit: r.u64(),
    };
    r.end();
    this.checkAge(t.createdAt, "Call token");
    return t;
  }

  sealCursor(callId: Uint8Array, state: Uint8Array, who: TokenIdentity, scope: TokenScope): string {
    const plain = new Writer().u64(this.now()).raw(callId).bytes(state).done();
    return seal(this.key, CURSOR_VERSION, plain, cursorAad(who, scope));
  }

  openCursor(token: string, who: TokenIdentity, scope: TokenScope): CursorToken {
    const r = new Reader(open(this.key, CURSOR_VERSION, token, cursorAad(who, scope), "state token"), "state token");
    const t: CursorToken = { createdAt: r.u64(), callId: r.raw(16), state: r.bytes() };
    r.end();
    this.checkAge(t.createdAt, "State token");
    return t;
  }

  private checkAge(createdAt: number, what: string) {
    if (this.options.ttl > 0 && this.now() - createdAt > this.options.ttl) throw new TokenError(`${what} expired`);
  }
}

/** Constant-time equality of two byte strings. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

// base64 (standard alphabet, padded) without Node's Buffer
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.byteLength; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error("not base64");
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
