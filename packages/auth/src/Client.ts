/**
 * Client side (RFC 3261 §22.2–§22.3): answer a challenge with credentials.
 */
import { randomBytes } from "node:crypto"
import type { AuthValue } from "@sipfx/message"
import { Data } from "effect"
import * as Algorithm from "./Algorithm.ts"
import { param } from "./Challenge.ts"
import * as Digest from "./Digest.ts"

export class UnsupportedChallenge extends Data.TaggedError("UnsupportedChallenge")<{ readonly reason: string }> {}

export interface Input {
  readonly username: string
  readonly password: string
  readonly method: string
  /** the Request-URI as text (RFC 3261 §22.4) */
  readonly uri: string
  /** needed for qop=auth-int */
  readonly body?: Uint8Array
  /** the client nonce; random 16 bytes (base64url) when absent */
  readonly cnonce?: string
}

const qops = (c: AuthValue): ReadonlyArray<string> =>
  (param(c, "qop") ?? "")
    .split(",")
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q.length > 0)

/** The challenge to answer: Digest, an algorithm we know, the strongest one (RFC 8760 §2.4). */
export const select = (challenges: ReadonlyArray<AuthValue>): AuthValue | undefined => {
  let best: AuthValue | undefined
  let bestStrength = -1
  for (const c of challenges) {
    if (c.scheme.toLowerCase() !== "digest" || param(c, "realm") === undefined || param(c, "nonce") === undefined)
      continue
    const a = Algorithm.parse(param(c, "algorithm"))
    if (a === undefined) continue
    const q = qops(c)
    if (q.length > 0 && !q.includes("auth") && !q.includes("auth-int")) continue
    const s = Algorithm.strength(a)
    if (s > bestStrength) {
      best = c
      bestStrength = s
    }
  }
  return best
}

/**
 * Authorization / Proxy-Authorization value answering `challenge` with nonce-count `nc`
 * (1 for the first request with this nonce, then 2, 3, … — RFC 7616 §3.4).
 */
export const respond = (challenge: AuthValue, input: Input, nc: number): AuthValue | UnsupportedChallenge => {
  if (challenge.scheme.toLowerCase() !== "digest")
    return new UnsupportedChallenge({ reason: `scheme ${challenge.scheme}` })
  const realm = param(challenge, "realm")
  const nonce = param(challenge, "nonce")
  if (realm === undefined || nonce === undefined) return new UnsupportedChallenge({ reason: "no realm or nonce" })
  const algorithmText = param(challenge, "algorithm")
  const algorithm = Algorithm.parse(algorithmText)
  if (algorithm === undefined) return new UnsupportedChallenge({ reason: `algorithm ${algorithmText}` })
  const offered = qops(challenge)
  // prefer auth: auth-int needs the body and protects little in SIP (RFC 3261 §22.4)
  const qop: Digest.Qop | undefined =
    offered.length === 0
      ? undefined
      : offered.includes("auth")
        ? "auth"
        : offered.includes("auth-int")
          ? "auth-int"
          : undefined
  if (offered.length > 0 && qop === undefined) return new UnsupportedChallenge({ reason: `qop ${offered.join(",")}` })
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff)
    return new UnsupportedChallenge({ reason: `nonce-count ${nc} out of range` })
  const needsCnonce = qop !== undefined || Algorithm.isSess(algorithm)
  const cnonce = needsCnonce ? (input.cnonce ?? randomBytes(16).toString("base64url")) : undefined
  const ncText = qop === undefined ? undefined : Digest.formatNc(nc)
  const response = Digest.response({
    algorithm,
    ha1: Digest.ha1(algorithm, input.username, realm, input.password),
    nonce,
    method: input.method,
    uri: input.uri,
    qop,
    nc: ncText,
    cnonce,
    ...(input.body === undefined ? {} : { body: input.body }),
  })
  const params: Array<readonly [string, string]> = [
    ["username", input.username],
    ["realm", realm],
    ["nonce", nonce],
    ["uri", input.uri],
    ["response", response],
  ]
  // RFC 2617 §3.2.2: algorithm echoed when the challenge named one
  if (algorithmText !== undefined) params.push(["algorithm", algorithm])
  if (cnonce !== undefined) params.push(["cnonce", cnonce])
  const opaque = param(challenge, "opaque")
  if (opaque !== undefined) params.push(["opaque", opaque])
  if (qop !== undefined && ncText !== undefined) params.push(["qop", qop], ["nc", ncText])
  return { scheme: "Digest", params }
}
