/**
 * Splits a stream transport's byte stream into messages (RFC 3261 §18.3): finds the end of
 * the header section, reads Content-Length (required on streams) and waits for the body.
 * CRLF keep-alives between messages are reported (RFC 5626 §3.5.1). A framing error means
 * the connection must be closed; a well-framed but invalid message is reported as `Invalid`
 * (the stream stays usable, and a request can be answered with 400).
 */
import { Data } from "effect"
import type { SipMessage } from "./Model.ts"
import type { ParseError } from "./ParseError.ts"
import * as Parser from "./Parser.ts"

export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: "HeaderTooLarge" | "MessageTooLarge" | "MissingContentLength" | "BadContentLength"
  readonly detail: string
}> {}

export type FrameResult =
  | { readonly _tag: "Message"; readonly message: SipMessage; readonly bytes: Uint8Array }
  | { readonly _tag: "Invalid"; readonly error: ParseError; readonly bytes: Uint8Array }
  /** `pong` holds the bytes to send back for a ping ("\r\n\r\n"); undefined for a received pong ("\r\n"). */
  | { readonly _tag: "KeepAlive"; readonly pong: Uint8Array | undefined }
  | { readonly _tag: "Error"; readonly error: FrameError }

export interface Options {
  /** largest message accepted, header section and body (default 65535) */
  readonly maxMessageSize?: number
  /** largest header section before the empty line (default 16384) */
  readonly maxHeaderBytes?: number
}

export interface Framer {
  /** Feeds a chunk; returns what it completes, in order. After an `Error`, the framer stays failed. */
  readonly push: (chunk: Uint8Array) => Array<FrameResult>
  /** octets received but not yet framed */
  readonly buffered: () => number
}

const PONG = new Uint8Array([13, 10])

const findHeaderEnd = (b: Uint8Array, from: number, end: number): number => {
  for (let i = from; i + 3 < end; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i
  }
  return -1
}

/** Reads Content-Length (full or compact name, any case) from a header section. */
const contentLength = (b: Uint8Array, start: number, end: number): number | FrameError => {
  const text = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1")
  const re = /\r\n(?:content-length|l)[ \t]*:[ \t]*(?:\r\n[ \t]+)?([^\r\n]*)/gi
  let found: number | undefined
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const v = m[1]!.trim()
    if (!/^\d{1,10}$/.test(v)) return new FrameError({ reason: "BadContentLength", detail: `Content-Length "${v}"` })
    const n = Number(v)
    if (found !== undefined && found !== n)
      return new FrameError({ reason: "BadContentLength", detail: "conflicting Content-Length values" })
    found = n
  }
  if (found === undefined)
    return new FrameError({ reason: "MissingContentLength", detail: "Content-Length is required on streams (§18.3)" })
  return found
}

export const make = (options: Options = {}): Framer => {
  const maxMessage = options.maxMessageSize ?? 65535
  const maxHeader = Math.min(options.maxHeaderBytes ?? 16384, maxMessage)
  // Emitted messages are views on `buf`; bytes are only ever written past `end`, and a
  // full buffer is replaced rather than compacted, so emitted views never change.
  let buf: Uint8Array = new Uint8Array(0)
  let start = 0
  let end = 0
  let scanFrom = 0
  let failed: FrameError | undefined

  const append = (chunk: Uint8Array): void => {
    if (start === end && chunk.length > 0) {
      // nothing pending: work on the chunk itself
      buf = chunk
      start = 0
      end = chunk.length
      scanFrom = 0
      return
    }
    if (end + chunk.length <= buf.length && buf !== chunk) {
      buf.set(chunk, end)
      end += chunk.length
      return
    }
    const pending = end - start
    const next = new Uint8Array(Math.max(4096, (pending + chunk.length) * 2))
    next.set(buf.subarray(start, end), 0)
    next.set(chunk, pending)
    scanFrom -= start
    buf = next
    start = 0
    end = pending + chunk.length
  }

  const push = (chunk: Uint8Array): Array<FrameResult> => {
    const out: Array<FrameResult> = []
    if (failed !== undefined) return [{ _tag: "Error", error: failed }]
    append(chunk)
    const fatal = (error: FrameError): Array<FrameResult> => {
      failed = error
      out.push({ _tag: "Error", error })
      start = end
      return out
    }
    while (start < end) {
      // keep-alives between messages: "\r\n\r\n" is a ping, a lone "\r\n" a pong
      if (buf[start] === 13) {
        if (end - start < 2) break
        if (buf[start + 1] !== 10) return fatal(new FrameError({ reason: "BadContentLength", detail: "stray CR" }))
        if (end - start >= 4 && buf[start + 2] === 13 && buf[start + 3] === 10) {
          out.push({ _tag: "KeepAlive", pong: PONG })
          start += 4
        } else if (end - start >= 3 && buf[start + 2] !== 13) {
          out.push({ _tag: "KeepAlive", pong: undefined })
          start += 2
        } else if (end - start === 2) {
          // wait: it may be the first half of a ping
          break
        } else {
          break
        }
        scanFrom = start
        continue
      }
      const he = findHeaderEnd(buf, Math.max(scanFrom, start), end)
      if (he < 0) {
        scanFrom = Math.max(start, end - 3)
        if (end - start > maxHeader)
          return fatal(new FrameError({ reason: "HeaderTooLarge", detail: `no empty line within ${maxHeader} octets` }))
        break
      }
      if (he - start > maxHeader)
        return fatal(new FrameError({ reason: "HeaderTooLarge", detail: `header section over ${maxHeader} octets` }))
      const cl = contentLength(buf, start - 2 >= 0 ? start : start, he + 2)
      if (typeof cl !== "number") return fatal(cl)
      const total = he + 4 - start + cl
      if (total > maxMessage)
        return fatal(new FrameError({ reason: "MessageTooLarge", detail: `message of ${total} octets` }))
      if (end - start < total) {
        scanFrom = he
        break
      }
      const bytes = buf.subarray(start, start + total)
      start += total
      scanFrom = start
      const r = Parser.parse(bytes, { transport: "stream" })
      out.push(
        r._tag === "Ok" ? { _tag: "Message", message: r.message, bytes } : { _tag: "Invalid", error: r.error, bytes },
      )
    }
    if (start === end) {
      // release the chunk or buffer we no longer need
      buf = new Uint8Array(0)
      start = end = scanFrom = 0
    }
    return out
  }

  return { push, buffered: () => end - start }
}
