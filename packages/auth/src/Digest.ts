/**
 * The digest computation (RFC 2617 §3.2.2, RFC 7616 §3.4): pure functions over strings.
 */
import { type Algorithm, hash, isSess } from "./Algorithm.ts"

export type Qop = "auth" | "auth-int"

/** H(username ":" realm ":" password) — the HA1 a Credentials store may keep instead of passwords. */
export const ha1 = (algorithm: Algorithm, username: string, realm: string, password: string): string =>
  hash(algorithm, `${username}:${realm}:${password}`)

/** RFC 7616 §3.4.2: for "-sess" algorithms A1 adds the nonce and cnonce to the base HA1. */
export const sessionHa1 = (algorithm: Algorithm, baseHa1: string, nonce: string, cnonce: string): string =>
  isSess(algorithm) ? hash(algorithm, `${baseHa1}:${nonce}:${cnonce}`) : baseHa1

/** RFC 7616 §3.4.3: A2 = method ":" uri [":" H(body)] for auth-int. */
export const ha2 = (
  algorithm: Algorithm,
  method: string,
  uri: string,
  qop: Qop | undefined,
  body: Uint8Array = new Uint8Array(0),
): string => hash(algorithm, qop === "auth-int" ? `${method}:${uri}:${hash(algorithm, body)}` : `${method}:${uri}`)

export interface ResponseInput {
  readonly algorithm: Algorithm
  /** the base HA1, H(username:realm:password) */
  readonly ha1: string
  readonly nonce: string
  readonly method: string
  readonly uri: string
  readonly qop: Qop | undefined
  /** 8 hex digits, required with qop */
  readonly nc: string | undefined
  readonly cnonce: string | undefined
  readonly body?: Uint8Array
}

/** The `response` value (RFC 7616 §3.4.1; RFC 2069 form when there is no qop). */
export const response = (i: ResponseInput): string => {
  const a1 = sessionHa1(i.algorithm, i.ha1, i.nonce, i.cnonce ?? "")
  const a2 = ha2(i.algorithm, i.method, i.uri, i.qop, i.body)
  return i.qop === undefined
    ? hash(i.algorithm, `${a1}:${i.nonce}:${a2}`)
    : hash(i.algorithm, `${a1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${a2}`)
}

/** nonce-count as sent: 8 lower-case hex digits (RFC 7616 §3.4). */
export const formatNc = (n: number): string => n.toString(16).padStart(8, "0")
