/**
 * Canonical RFC 3261 text: start line, one field per line with full names, a correct
 * Content-Length (written where the first one was, or last), empty line, body.
 */
import { canonicalName } from "./Headers.ts"
import type { SipMessage } from "./Model.ts"
import { format } from "./Uri.ts"

/** The header section (start line through the empty line) as text. */
export const head = (m: SipMessage): string => {
  let out = m._tag === "SipRequest" ? `${m.method} ${formatUri(m)} SIP/2.0\r\n` : `SIP/2.0 ${m.status} ${m.reason}\r\n`
  let clWritten = false
  const headers = m.headers
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const name = canonicalName(h.name)
    if (name === "Content-Length") {
      if (!clWritten) out += `Content-Length: ${m.body.length}\r\n`
      clWritten = true
      continue
    }
    out += `${name}: ${h.value}\r\n`
  }
  if (!clWritten) out += `Content-Length: ${m.body.length}\r\n`
  return out + "\r\n"
}

const formatUri = (m: SipMessage & { readonly _tag: "SipRequest" }): string => format(m.uri)

/**
 * The message's octets. Small messages share Node's Buffer pool: an ArrayBuffer of its own per
 * message cost more than building the text. Header text is UTF-8 (§7.3.1, §25.1).
 */
export const serialize = (m: SipMessage): Uint8Array => {
  const text = head(m)
  const len = Buffer.byteLength(text, "utf8")
  const body = m.body
  const out = Buffer.allocUnsafe(len + body.length)
  out.write(text, 0, len, "utf8")
  if (body.length > 0) out.set(body, len)
  return out
}

/** The whole message as text (body decoded as UTF-8), for logs and tests. */
// biome-ignore lint/suspicious/noShadowRestrictedNames: `Serializer.toString` is the public name
export const toString = (m: SipMessage): string => head(m) + new TextDecoder().decode(m.body)
