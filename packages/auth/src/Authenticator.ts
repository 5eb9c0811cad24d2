/**
 * Server side of digest authentication for SIP (RFC 3261 §22.1–§22.4, RFC 7616, RFC 8760):
 * challenges with stateless nonces, and verification of the credentials of a request.
 */
import { timingSafeEqual } from "node:crypto"
import { type AuthValue, type SipRequest, Uri } from "@sipfx/message"
import { Clock, Data, Effect } from "effect"
import * as Algorithm from "./Algorithm.ts"
import { credentialsHeader, type Kind, MalformedAuth, param, read } from "./Challenge.ts"
import { Credentials, type CredentialsError } from "./Credentials.ts"
import * as Digest from "./Digest.ts"
import * as Nonce from "./Nonce.ts"

export interface Options {
  /** protection domain (RFC 3261 §22.1: usually the domain of the server) */
  readonly realm: string
  /** HMAC key for nonces; share it between processes that verify each other's nonces */
  readonly secret: Uint8Array
  /** offered algorithms, one challenge each, in this order (default SHA-256, MD5 — RFC 8760 §2.4) */
  readonly algorithms?: ReadonlyArray<Algorithm.Algorithm>
  /** "www" → 401 / Authorization (UAS, registrar); "proxy" → 407 / Proxy-Authorization */
  readonly kind?: Kind
  /** how long a nonce stays fresh, ms (default 5 min); older ones get stale=true */
  readonly nonceTtl?: number
  /** accept credentials without qop (RFC 2069 form, RFC 3261 §22.4 backward compatibility; default true) */
  readonly allowNoQop?: boolean
  /** include qop="auth" in challenges (default true) */
  readonly qop?: boolean
  readonly opaque?: string
}

export type Result =
  | {
      readonly _tag: "Ok"
      readonly username: string
      readonly realm: string
      readonly algorithm: Algorithm.Algorithm
    }
  /** no credentials for this realm: challenge */
  | { readonly _tag: "Missing" }
  /** right password, old nonce or repeated nonce-count: challenge with stale=true */
  | { readonly _tag: "Stale"; readonly username: string }
  /** wrong response, foreign nonce, mismatching uri or algorithm: challenge again (or 403) */
  | { readonly _tag: "Invalid"; readonly username: string; readonly reason: string }
  | { readonly _tag: "UnknownUser"; readonly username: string }

export type VerifyError = MalformedAuth | CredentialsError

export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{ readonly reason: string }> {}

export interface Authenticator {
  readonly kind: Kind
  readonly realm: string
  /** The challenge values (one per algorithm, sharing a nonce) for a 401/407 (RFC 3261 §22.1). */
  readonly challenge: (options?: { readonly stale?: boolean }) => Effect.Effect<ReadonlyArray<AuthValue>>
  /** Checks the request's credentials for this realm (RFC 3261 §22.3, §22.4). */
  readonly verify: (request: SipRequest) => Effect.Effect<Result, VerifyError, Credentials>
}

const HEX = /^[0-9a-f]+$/

export const make = (options: Options): Authenticator => {
  const { realm, secret } = options
  const kind = options.kind ?? "www"
  const algorithms = options.algorithms ?? ["SHA-256", "MD5"]
  const ttl = options.nonceTtl ?? 300_000
  const allowNoQop = options.allowNoQop ?? true
  const offerQop = options.qop ?? true
  const header = credentialsHeader(kind)
  let counts: Nonce.NonceCounts | undefined

  const challenge = (o: { readonly stale?: boolean } = {}) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const nonce = Nonce.issue(secret, realm, now)
      return algorithms.map((algorithm): AuthValue => {
        const params: Array<readonly [string, string]> = [
          ["realm", realm],
          ["nonce", nonce],
        ]
        if (options.opaque !== undefined) params.push(["opaque", options.opaque])
        params.push(["algorithm", algorithm])
        if (offerQop) params.push(["qop", "auth"])
        if (o.stale) params.push(["stale", "true"])
        return { scheme: "Digest", params }
      })
    })

  const malformed = (value: AuthValue, reason: string) =>
    new MalformedAuth({ header: header.name, value: `${value.scheme} …`, reason })

  const verify = (request: SipRequest): Effect.Effect<Result, VerifyError, Credentials> =>
    Effect.gen(function* () {
      const values = read(request, header)
      if (values instanceof MalformedAuth) return yield* Effect.fail(values)
      // §22.3: several credentials may be present, one per realm; take ours
      const mine = values.find((v) => v.scheme.toLowerCase() === "digest" && param(v, "realm") === realm)
      if (mine === undefined) return { _tag: "Missing" } as const
      const username = param(mine, "username")
      const nonce = param(mine, "nonce")
      const uri = param(mine, "uri")
      const response = param(mine, "response")?.toLowerCase()
      if (username === undefined || nonce === undefined || uri === undefined || response === undefined)
        return yield* Effect.fail(malformed(mine, "username, nonce, uri and response are required"))
      const algorithm = Algorithm.parse(param(mine, "algorithm"))
      if (algorithm === undefined || !algorithms.includes(algorithm))
        return { _tag: "Invalid", username, reason: `algorithm ${param(mine, "algorithm")} not offered` } as const
      if (response.length !== Algorithm.hexLength(algorithm) || !HEX.test(response))
        return yield* Effect.fail(malformed(mine, "response is not a digest of the algorithm"))
      const qopText = param(mine, "qop")
      const nc = param(mine, "nc")
      const cnonce = param(mine, "cnonce")
      let qop: Digest.Qop | undefined
      if (qopText !== undefined) {
        if (qopText !== "auth" && qopText !== "auth-int")
          return yield* Effect.fail(malformed(mine, `qop ${qopText} unknown`))
        if (nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || cnonce === undefined)
          return yield* Effect.fail(malformed(mine, "qop needs nc (8 hex digits) and cnonce"))
        qop = qopText
      } else if (!allowNoQop) return { _tag: "Invalid", username, reason: "qop required" } as const
      if (Algorithm.isSess(algorithm) && cnonce === undefined)
        return yield* Effect.fail(malformed(mine, `${algorithm} needs cnonce`))
      // RFC 3261 §22.4: the uri parameter must name the Request-URI
      const credUri = Uri.decode(uri)
      if (credUri._tag === "UriError" || !Uri.equals(credUri, request.uri))
        return { _tag: "Invalid", username, reason: "uri does not match the Request-URI" } as const

      const now = yield* Clock.currentTimeMillis
      const checked = Nonce.check(secret, realm, nonce, now, ttl)
      if (checked._tag === "Forged") return { _tag: "Invalid", username, reason: "nonce not issued here" } as const

      const secretOf = yield* (yield* Credentials).lookup(username, realm)
      if (secretOf === undefined) return { _tag: "UnknownUser", username } as const
      const ha1 =
        secretOf._tag === "Password"
          ? Digest.ha1(algorithm, username, realm, secretOf.password)
          : secretOf.ha1[algorithm.replace(/-sess$/, "") as Algorithm.Algorithm]
      if (ha1 === undefined)
        return { _tag: "Invalid", username, reason: `no ${algorithm} HA1 stored for the user` } as const
      const expected = Digest.response({
        algorithm,
        ha1,
        nonce,
        method: request.method,
        uri,
        qop,
        nc,
        cnonce,
        body: request.body,
      })
      if (!timingSafeEqual(Buffer.from(expected), Buffer.from(response)))
        return { _tag: "Invalid", username, reason: "wrong response" } as const
      // only a correct response may advance the count, so forgeries cannot burn counts
      if (checked._tag === "Expired") return { _tag: "Stale", username } as const
      if (qop !== undefined) {
        counts ??= new Nonce.NonceCounts(ttl, now)
        if (!counts.advance(nonce, Number.parseInt(nc!, 16), now)) return { _tag: "Stale", username } as const
      }
      return { _tag: "Ok", username, realm, algorithm } as const
    })

  return { kind, realm, challenge, verify }
}
