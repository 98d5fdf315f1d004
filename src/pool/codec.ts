/**
 * Codec: writes a task argument or result into a shared-memory slot and reads it back, with
 * structured-clone semantics for the common cases and `v8.serialize` for everything else.
 *
 * Why not `v8.serialize` for everything: on the 2-vCPU bench machine it costs ~1.5–5 µs for
 * `{ a: 1, b: 2 }` (plus ~2 µs to deserialize), which alone would cap the pool far below its
 * 1 M tasks/s target; the hand-written fast path below costs ~35 ns each way for that object.
 *
 * Format: a stream of items, each starting on a 4-byte boundary with an Int32 tag word.
 *
 * | tag      | payload after the tag word                                          |
 * |----------|---------------------------------------------------------------------|
 * | UNDEF, NULL, FALSE, TRUE | —                                                   |
 * | INT      | int32 (−0 is not an INT)                                            |
 * | F64      | padding to 8 bytes, float64                                         |
 * | STR8     | length, latin1 bytes (padded to 4)                                  |
 * | STR16    | length in UTF-16 units, UTF-16LE bytes (lone surrogates kept)       |
 * | ASCII    | length, ASCII bytes (padded to 4): long strings that are pure ASCII |
 * | ARR      | n, n items (dense arrays only)                                      |
 * | OBJ      | n, n × (key length, latin1 key bytes padded, item)                  |
 * | BYTES    | kind (TYPED_KINDS index, 0 = ArrayBuffer), byte length, bytes padded |
 * | DATE     | padding to 8 bytes, float64 time value                              |
 * | V8       | byte length, `v8.serialize` bytes (only ever the whole value)       |
 *
 * The fast path covers: undefined, null, booleans, numbers, strings, Dates, dense arrays and plain
 * objects (prototype Object.prototype or null, latin1 keys) nested at most MAX_DEPTH deep, whole
 * typed arrays and ArrayBuffers. Anything else (Map, Set, RegExp, BigInt, class instances, errors,
 * holes, views into part of a buffer, cycles) makes the encoder start over with V8's ValueSerializer
 * (`new v8.Serializer()`, the structured-clone writer postMessage uses) for the whole value; a value
 * it rejects (functions, symbols, SharedArrayBuffers, ports) is
 * reported to the caller, which sends it by message instead (true structured clone, and the
 * DataCloneError if that fails too). Differences from structured clone on the fast path: extra
 * non-index properties of arrays are dropped.
 *
 * All writes are plain writes into a slot the writer owns; the caller publishes them with the
 * task's state word / ring store (see layout.ts), and the reader reads after the matching load.
 */

import v8 from 'node:v8';

export const T_UNDEF = 1;
export const T_NULL = 2;
export const T_FALSE = 3;
export const T_TRUE = 4;
export const T_INT = 5;
export const T_F64 = 6;
export const T_STR8 = 7;
export const T_STR16 = 8;
export const T_ARR = 9;
export const T_OBJ = 10;
export const T_BYTES = 11;
export const T_DATE = 12;
export const T_V8 = 13;
export const T_ASCII = 14;

/** Nesting deeper than this (or a cycle) goes through v8.serialize. */
const MAX_DEPTH = 12;
/** Strings at least this long are written as UTF-16LE by Buffer#write (native), shorter ones by hand. */
const LONG_STRING = 48;

const TYPED_KINDS = [
  ArrayBuffer, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
] as const;

/** The encoder gave up on the fast path (unsupported value); the caller retries with v8.serialize. */
const UNSUPPORTED = -2;
/** The value does not fit in the slot. */
export const NO_ROOM = -1;

/** Thrown by encode() when `v8.serialize` rejects the value (the caller may still try postMessage). */
export class NotSerializableError extends Error {
  override name = 'NotSerializableError';
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super(`value cannot be serialized into shared memory: ${(cause as Error)?.message ?? String(cause)}`);
    this.cause = cause;
  }
}

const objectProto = Object.prototype;

/** Reads and writes values in one SharedArrayBuffer (one per thread per buffer). */
export class Codec {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Buffer;
  /** Decoded object keys, by a hash of their bytes (saves a string allocation + intern per key). */
  private readonly keyCache: (string | undefined)[] = Array.from({ length: 512 }, () => undefined);
  private end = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer, 0, buffer.byteLength >> 3);
    this.u8 = Buffer.from(buffer);
  }

  /**
   * Writes `value` at byte offset `off` (8-aligned) with at most `cap` bytes. Returns the bytes
   * written, or NO_ROOM. Throws NotSerializableError when the value cannot be serialized at all.
   */
  encode(value: unknown, off: number, cap: number): number {
    this.end = off + cap;
    const p = this.item(value, off >> 2, 0);
    if (p >= 0) return (p << 2) - off;
    if (p === NO_ROOM) return NO_ROOM;
    return this.encodeV8(value, off, cap);
  }

  /** Bytes `value` would take with v8.serialize, for picking a tier; also used by encode's fallback. */
  encodeV8(value: unknown, off: number, cap: number): number {
    let bytes: Buffer;
    try {
      // The base Serializer (not v8.serialize's DefaultSerializer): typed arrays and their buffers
      // are written as structured clone writes them, so the reader gets fresh, unshared copies.
      const ser = new v8.Serializer();
      ser.writeHeader();
      ser.writeValue(value);
      bytes = ser.releaseBuffer();
    } catch (e) {
      throw new NotSerializableError(e);
    }
    const need = 8 + bytes.length;
    if (need > cap) return NO_ROOM;
    const p = off >> 2;
    this.i32[p] = T_V8;
    this.i32[p + 1] = bytes.length;
    this.u8.set(bytes, off + 8);
    return need;
  }

  /** Reads the value written at byte offset `off`. */
  decode(off: number): unknown {
    this.end = off >> 2;
    return this.read(off >> 2);
  }

  /** Rough size guess for choosing the first tier to try. */
  static sizeHint(value: unknown): number {
    if (typeof value === 'string') return 8 + value.length;
    if (typeof value !== 'object' || value === null) return 16;
    if (ArrayBuffer.isView(value)) return 16 + value.byteLength;
    if (value instanceof ArrayBuffer) return 16 + value.byteLength;
    return 64;
  }

  // ---------------------------------------------------------------- encoding

  /** Writes one item at word index p; returns the next word index, NO_ROOM or UNSUPPORTED. */
  private item(v: unknown, p: number, depth: number): number {
    const i32 = this.i32;
    const endW = this.end >> 2;
    if (p + 2 > endW) return NO_ROOM;
    switch (typeof v) {
      case 'number':
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          i32[p] = T_INT;
          i32[p + 1] = v;
          return p + 2;
        }
        i32[p] = T_F64;
        p = (p + 2) & ~1; // tag, then pad to 8 bytes
        if (p + 2 > endW) return NO_ROOM;
        this.f64[p >> 1] = v;
        return p + 2;
      case 'string':
        return this.str(v, p);
      case 'boolean':
        i32[p] = v ? T_TRUE : T_FALSE;
        return p + 1;
      case 'undefined':
        i32[p] = T_UNDEF;
        return p + 1;
      case 'object': {
        if (v === null) {
          i32[p] = T_NULL;
          return p + 1;
        }
        if (depth >= MAX_DEPTH) return UNSUPPORTED;
        if (Array.isArray(v)) return this.arr(v as unknown[], p, depth);
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto === objectProto || proto === null) return this.obj(v as Record<string, unknown>, p, depth);
        if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return this.bytes(v, p);
        if (v instanceof Date) {
          i32[p] = T_DATE;
          p = (p + 2) & ~1;
          if (p + 2 > endW) return NO_ROOM;
          this.f64[p >> 1] = v.getTime();
          return p + 2;
        }
        return UNSUPPORTED;
      }
      default:
        return UNSUPPORTED; // bigint, function, symbol: v8.serialize decides
    }
  }

  private str(s: string, p: number): number {
    const i32 = this.i32;
    const n = s.length;
    const byteOff = (p + 2) << 2;
    if (n < LONG_STRING) {
      if (byteOff + n > this.end) return NO_ROOM;
      const u8 = this.u8;
      let latin1 = true;
      for (let j = 0; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c > 255) {
          latin1 = false;
          break;
        }
        u8[byteOff + j] = c;
      }
      if (latin1) {
        i32[p] = T_STR8;
        i32[p + 1] = n;
        return p + 2 + ((n + 3) >> 2);
      }
    }
    if (n >= LONG_STRING && byteOff + n <= this.end && Buffer.byteLength(s, 'utf8') === n) {
      // Pure ASCII (UTF-8 length = UTF-16 length): one byte per character, written natively.
      this.u8.write(s, byteOff, n, 'latin1');
      i32[p] = T_ASCII;
      i32[p + 1] = n;
      return p + 2 + ((n + 3) >> 2);
    }
    const bytes = 2 * n;
    if (byteOff + bytes > this.end) return NO_ROOM;
    i32[p] = T_STR16;
    i32[p + 1] = n;
    this.u8.write(s, byteOff, bytes, 'utf16le');
    return p + 2 + ((bytes + 3) >> 2);
  }

  private arr(a: unknown[], p: number, depth: number): number {
    const n = a.length;
    this.i32[p] = T_ARR;
    this.i32[p + 1] = n;
    let q = p + 2;
    for (let j = 0; j < n; j++) {
      const v = a[j];
      if (v === undefined && !(j in a)) return UNSUPPORTED; // a hole: structured clone keeps it
      q = this.item(v, q, depth + 1);
      if (q < 0) return q;
    }
    return q;
  }

  private obj(o: Record<string, unknown>, p: number, depth: number): number {
    const i32 = this.i32;
    const u8 = this.u8;
    const endW = this.end >> 2;
    let n = 0;
    let q = p + 2;
    for (const k in o) {
      const kl = k.length;
      const kb = (q + 1) << 2;
      if (q + 1 + ((kl + 3) >> 2) + 2 > endW) return NO_ROOM;
      for (let j = 0; j < kl; j++) {
        const c = k.charCodeAt(j);
        if (c > 255) return UNSUPPORTED;
        u8[kb + j] = c;
      }
      i32[q] = kl;
      q = this.item(o[k], q + 1 + ((kl + 3) >> 2), depth + 1);
      if (q < 0) return q;
      n++;
    }
    i32[p] = T_OBJ;
    i32[p + 1] = n;
    return q;
  }

  private bytes(v: ArrayBufferView | ArrayBuffer, p: number): number {
    let kind: number;
    let src: Uint8Array;
    if (v instanceof ArrayBuffer) {
      kind = 0;
      src = new Uint8Array(v);
    } else {
      kind = TYPED_KINDS.indexOf(v.constructor as (typeof TYPED_KINDS)[number]);
      // Subclasses (Buffer), views of part of a buffer and views of shared or resizable memory take
      // the v8 path (structured clone keeps the whole buffer and the offset; we would not).
      if (kind <= 0 || v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength || !(v.buffer instanceof ArrayBuffer) || v.buffer.resizable) {
        return UNSUPPORTED;
      }
      src = new Uint8Array(v.buffer, 0, v.byteLength);
    }
    if (v instanceof ArrayBuffer && v.resizable) return UNSUPPORTED;
    const len = src.length;
    const byteOff = (p + 3) << 2;
    if (byteOff + len > this.end) return NO_ROOM;
    this.i32[p] = T_BYTES;
    this.i32[p + 1] = kind;
    this.i32[p + 2] = len;
    this.u8.set(src, byteOff);
    return p + 3 + ((len + 3) >> 2);
  }

  // ---------------------------------------------------------------- decoding

  private read(p: number): unknown {
    const i32 = this.i32;
    const tag = i32[p];
    switch (tag) {
      case T_INT:
        this.end = p + 2;
        return i32[p + 1];
      case T_F64: {
        const q = (p + 2) & ~1;
        this.end = q + 2;
        return this.f64[q >> 1];
      }
      case T_STR8:
      case T_STR16:
      case T_ASCII:
        return this.readStr(p);
      case T_OBJ:
        return this.readObj(p);
      case T_ARR: {
        const n = i32[p + 1];
        const a: unknown[] = [];
        this.end = p + 2;
        for (let j = 0; j < n; j++) a.push(this.read(this.end));
        return a;
      }
      case T_UNDEF:
        this.end = p + 1;
        return undefined;
      case T_NULL:
        this.end = p + 1;
        return null;
      case T_FALSE:
        this.end = p + 1;
        return false;
      case T_TRUE:
        this.end = p + 1;
        return true;
      case T_BYTES: {
        const kind = i32[p + 1];
        const len = i32[p + 2];
        const byteOff = (p + 3) << 2;
        const ab = new ArrayBuffer(len);
        new Uint8Array(ab).set(this.u8.subarray(byteOff, byteOff + len));
        this.end = p + 3 + ((len + 3) >> 2);
        if (kind === 0) return ab;
        const C = TYPED_KINDS[kind] as unknown as new (b: ArrayBuffer) => unknown;
        return new C(ab);
      }
      case T_DATE: {
        const q = (p + 2) & ~1;
        this.end = q + 2;
        return new Date(this.f64[q >> 1]);
      }
      case T_V8: {
        const len = i32[p + 1];
        const byteOff = (p + 2) << 2;
        this.end = p + 2 + ((len + 3) >> 2);
        const des = new v8.Deserializer(this.u8.subarray(byteOff, byteOff + len));
        des.readHeader();
        return des.readValue();
      }
      default:
        throw new TypeError(`parklot codec: unknown tag ${tag} at word ${p} (corrupt slot)`);
    }
  }

  private readStr(p: number): string {
    const n = this.i32[p + 1];
    const byteOff = (p + 2) << 2;
    const tag = this.i32[p];
    if (tag === T_ASCII) {
      this.end = p + 2 + ((n + 3) >> 2);
      return this.u8.toString('ascii', byteOff, byteOff + n);
    }
    if (tag === T_STR8) {
      this.end = p + 2 + ((n + 3) >> 2);
      const u8 = this.u8;
      if (n > 24) return u8.toString('latin1', byteOff, byteOff + n);
      let s = '';
      for (let j = 0; j < n; j++) s += String.fromCharCode(u8[byteOff + j]);
      return s;
    }
    this.end = p + 2 + ((2 * n + 3) >> 2);
    return this.u8.toString('utf16le', byteOff, byteOff + 2 * n);
  }

  private readObj(p: number): Record<string, unknown> {
    const i32 = this.i32;
    const u8 = this.u8;
    const n = i32[p + 1];
    const o: Record<string, unknown> = {};
    let q = p + 2;
    for (let j = 0; j < n; j++) {
      const kl = i32[q];
      const kb = (q + 1) << 2;
      const key = this.key(u8, kb, kl);
      o[key] = this.read(q + 1 + ((kl + 3) >> 2));
      q = this.end;
    }
    this.end = q;
    return o;
  }

  private key(u8: Buffer, off: number, n: number): string {
    if (n === 0) return '';
    const h = (n * 31 + u8[off] * 7 + u8[off + n - 1] * 3 + (n > 2 ? u8[off + 1] : 0)) & 511;
    const c = this.keyCache[h];
    if (c !== undefined && c.length === n) {
      let same = true;
      for (let j = 0; j < n; j++) {
        if (c.charCodeAt(j) !== u8[off + j]) {
          same = false;
          break;
        }
      }
      if (same) return c;
    }
    const s = n > 24 ? u8.toString('latin1', off, off + n) : this.shortLatin1(u8, off, n);
    this.keyCache[h] = s;
    return s;
  }

  private shortLatin1(u8: Buffer, off: number, n: number): string {
    let s = '';
    for (let j = 0; j < n; j++) s += String.fromCharCode(u8[off + j]);
    return s;
  }
}

/** Writes an Error (or any thrown value) so the other side can rethrow something equivalent. */
export function errorToWire(e: unknown): unknown {
  if (e instanceof Error) {
    const props: Record<string, unknown> = {};
    for (const k of Object.keys(e)) {
      const v = (e as unknown as Record<string, unknown>)[k];
      if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) props[k] = v;
    }
    return { $parklotError: true, name: e.name, message: e.message, stack: e.stack, props, cause: plainCause(e.cause) };
  }
  try {
    v8.serialize(e);
    return { $parklotThrown: true, value: e };
  } catch {
    return { $parklotThrown: true, value: String(e) };
  }
}

function plainCause(c: unknown): unknown {
  if (c === undefined) return undefined;
  if (c instanceof Error) return { $parklotError: true, name: c.name, message: c.message, stack: c.stack, props: {} };
  try {
    v8.serialize(c);
    return c;
  } catch {
    return String(c);
  }
}

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

/** Rebuilds what errorToWire wrote: an Error of the same standard class with the same name, message, stack and own props. */
export function errorFromWire(w: unknown): unknown {
  if (w !== null && typeof w === 'object' && (w as { $parklotThrown?: boolean }).$parklotThrown === true) return (w as { value: unknown }).value;
  if (w === null || typeof w !== 'object' || (w as { $parklotError?: boolean }).$parklotError !== true) return w;
  const d = w as { name: string; message: string; stack?: string; props: Record<string, unknown>; cause?: unknown };
  const C = ERROR_CLASSES[d.name] ?? Error;
  const e = d.cause === undefined ? new C(d.message) : new C(d.message, { cause: errorFromWire(d.cause) });
  if (e.name !== d.name) Object.defineProperty(e, 'name', { value: d.name, configurable: true, writable: true, enumerable: false });
  if (d.stack !== undefined) Object.defineProperty(e, 'stack', { value: d.stack, configurable: true, writable: true, enumerable: false });
  Object.assign(e, d.props);
  return e;
}
