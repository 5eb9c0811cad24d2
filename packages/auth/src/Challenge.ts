/**
 * Reading challenges and credentials from messages (RFC 3261 §22.2–§22.3): 401 carries
 * WWW-Authenticate / Authorization, 407 Proxy-Authenticate / Proxy-Authorization.
 */
import { type AuthValue, Header, HeaderError, Headers, type SipMessage } from "@sipfx/message"
import { Data } from "effect"

export type Kind = "www" | "proxy"

/** The status that carries a challenge of this kind. */
export const status = (kind: Kind): 401 | 407 => (kind === "www" ? 401 : 407)

export const challengeHeader = (kind: Kind) => (kind === "www" ? Headers.WWWAuthenticate : Headers.ProxyAuthenticate)
export const credentialsHeader = (kind: Kind) => (kind === "www" ? Headers.Authorization : Headers.ProxyAuthorization)

/** A header value that does not follow the credentials/challenge grammar, or lacks a required part. */
export class MalformedAuth extends Data.TaggedError("MalformedAuth")<{
  readonly header: string
  readonly value: string
  readonly reason: string
}> {}

/** Parameter value by case-insensitive name (RFC 7616 §3.3: names are case-insensitive). */
export const param = (v: AuthValue, name: string): string | undefined => {
  for (const [n, value] of v.params) if (n.length === name.length && n.toLowerCase() === name) return value
  return undefined
}

/** Every value of the header, parsed; the first malformed one is a typed error. */
export const read = (m: SipMessage, def: Headers.HeaderDef<AuthValue>): ReadonlyArray<AuthValue> | MalformedAuth => {
  const out: Array<AuthValue> = []
  for (const h of m.headers) {
    if (h.name !== def.name) continue
    try {
      out.push(def.parse(h.value))
    } catch (e) {
      return new MalformedAuth({
        header: def.name,
        value: h.value,
        reason: e instanceof HeaderError ? e.reason : String(e),
      })
    }
  }
  return out
}

/** Challenges of a 401/407 (WWW-Authenticate or Proxy-Authenticate by status). */
export const challengesOf = (response: SipMessage, kind: Kind): ReadonlyArray<AuthValue> | MalformedAuth =>
  read(response, challengeHeader(kind))

/** Header fields carrying `values` as challenges (for the 401/407) or credentials (for the retried request). */
export const toHeaders = (kind: Kind, role: "challenge" | "credentials", values: ReadonlyArray<AuthValue>) =>
  values.map((v) => Header.make(role === "challenge" ? challengeHeader(kind) : credentialsHeader(kind), v))
