import { describe, expect, it } from "@effect/vitest"
import { type AuthValue, Header, Message, type SipRequest, Uri } from "@sipfx/message"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Algorithm, Authenticator, Challenge, Client, Credentials, CredentialsError, Digest } from "../src/index.ts"

const secret = new TextEncoder().encode("a shared secret of the registrar farm")
const realm = "biloxi.example.com"
const users = Credentials.layer({
  [realm]: {
    bob: "zanzibar",
    carol: {
      ha1: { MD5: Digest.ha1("MD5", "carol", realm, "h4sh"), "SHA-256": Digest.ha1("SHA-256", "carol", realm, "h4sh") },
    },
  },
})

const requestUri = "sip:biloxi.example.com"
const register = (headers: ReadonlyArray<Header.Header> = [], body?: Uint8Array): SipRequest =>
  Message.request({ method: "REGISTER", uri: Uri.parse(requestUri), headers, ...(body ? { body } : {}) })

const answer = (challenge: AuthValue, nc = 1, over: Partial<Client.Input> = {}) => {
  const a = Client.respond(
    challenge,
    { username: "bob", password: "zanzibar", method: "REGISTER", uri: requestUri, ...over },
    nc,
  )
  if (a instanceof Client.UnsupportedChallenge) throw a
  return a
}

const withCredentials = (a: AuthValue, kind: Challenge.Kind = "www", body?: Uint8Array) =>
  register(Challenge.toHeaders(kind, "credentials", [a]), body)

const auth = Authenticator.make({ realm, secret, algorithms: [...Algorithm.all] })

describe("Authenticator", () => {
  it.effect("§22.1 the challenge offers one value per algorithm, sharing one nonce, with qop=auth", () =>
    Effect.gen(function* () {
      const cs = yield* Authenticator.make({ realm, secret }).challenge()
      expect(cs.map((c) => Challenge.param(c, "algorithm"))).toEqual(["SHA-256", "MD5"])
      expect(new Set(cs.map((c) => Challenge.param(c, "nonce"))).size).toBe(1)
      expect(cs.every((c) => Challenge.param(c, "realm") === realm && Challenge.param(c, "qop") === "auth")).toBe(true)
      // formatted for a 401: qop quoted, algorithm bare (RFC 7616 §3.3)
      const [h] = Challenge.toHeaders("www", "challenge", cs)
      expect(h?.name).toBe("WWW-Authenticate")
      expect(h?.value).toMatch(
        /^Digest realm="biloxi\.example\.com", nonce="[A-Za-z0-9_-]{46}", algorithm=SHA-256, qop="auth"$/,
      )
    }),
  )

  for (const algorithm of Algorithm.all) {
    it.effect(`§22.4 client → server round trip with ${algorithm}`, () =>
      Effect.gen(function* () {
        const cs = yield* auth.challenge()
        const c = cs.find((x) => Challenge.param(x, "algorithm") === algorithm)!
        const r = yield* auth.verify(withCredentials(answer(c)))
        expect(r).toEqual({ _tag: "Ok", username: "bob", realm, algorithm })
      }).pipe(Effect.provide(users)),
    )
  }

  it.effect("§22.4 a wrong password is Invalid; an unknown user is UnknownUser", () =>
    Effect.gen(function* () {
      const [c] = yield* auth.challenge()
      const wrong = yield* auth.verify(withCredentials(answer(c!, 1, { password: "zanzibaR" })))
      expect(wrong).toEqual({ _tag: "Invalid", username: "bob", reason: "wrong response" })
      const who = yield* auth.verify(withCredentials(answer(c!, 1, { username: "mallory" })))
      expect(who).toEqual({ _tag: "UnknownUser", username: "mallory" })
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.4 credentials checked against stored HA1 values, no password kept", () =>
    Effect.gen(function* () {
      const cs = yield* Authenticator.make({ realm, secret, algorithms: ["SHA-256", "MD5", "MD5-sess"] }).challenge()
      const a = Authenticator.make({ realm, secret, algorithms: ["SHA-256", "MD5", "MD5-sess"] })
      // the challenges share one nonce, so the count goes on across them
      for (const [i, c] of cs.entries()) {
        const r = yield* a.verify(withCredentials(answer(c, i + 1, { username: "carol", password: "h4sh" })))
        expect(r._tag).toBe("Ok")
      }
      const sha512 = Authenticator.make({ realm, secret, algorithms: ["SHA-512-256"] })
      const [c512] = yield* sha512.challenge()
      const r = yield* sha512.verify(withCredentials(answer(c512!, 1, { username: "carol", password: "h4sh" })))
      expect(r._tag).toBe("Invalid")
    }).pipe(Effect.provide(users)),
  )

  it.effect("RFC 7616 §3.4 a replayed nonce-count is Stale; increasing counts pass", () =>
    Effect.gen(function* () {
      const [c] = yield* auth.challenge()
      expect((yield* auth.verify(withCredentials(answer(c!, 1))))._tag).toBe("Ok")
      expect((yield* auth.verify(withCredentials(answer(c!, 1))))._tag).toBe("Stale")
      expect((yield* auth.verify(withCredentials(answer(c!, 2))))._tag).toBe("Ok")
      expect((yield* auth.verify(withCredentials(answer(c!, 5))))._tag).toBe("Ok")
      expect((yield* auth.verify(withCredentials(answer(c!, 3))))._tag).toBe("Stale")
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.4 / RFC 7616 §3.3 an expired nonce is Stale and the new challenge says stale=true", () =>
    Effect.gen(function* () {
      const a = Authenticator.make({ realm, secret, nonceTtl: 60_000 })
      const [c] = yield* a.challenge()
      yield* TestClock.adjust(59_999)
      expect((yield* a.verify(withCredentials(answer(c!, 1))))._tag).toBe("Ok")
      yield* TestClock.adjust(1)
      expect(yield* a.verify(withCredentials(answer(c!, 2)))).toEqual({ _tag: "Stale", username: "bob" })
      // the wrong password with an old nonce is still Invalid: stale only tells a right password to retry
      expect((yield* a.verify(withCredentials(answer(c!, 3, { password: "x" }))))._tag).toBe("Invalid")
      const again = yield* a.challenge({ stale: true })
      expect(again.every((v) => Challenge.param(v, "stale") === "true")).toBe(true)
      expect(Challenge.toHeaders("www", "challenge", again)[0]?.value).toContain("stale=true")
    }).pipe(Effect.provide(users)),
  )

  it.effect("RFC 7616 §5.4 nonces are stateless: another process with the secret verifies them, others do not", () =>
    Effect.gen(function* () {
      const issuer = Authenticator.make({ realm, secret })
      const peer = Authenticator.make({ realm, secret })
      const stranger = Authenticator.make({ realm, secret: new TextEncoder().encode("another secret") })
      const [c] = yield* issuer.challenge()
      expect((yield* peer.verify(withCredentials(answer(c!))))._tag).toBe("Ok")
      expect(yield* stranger.verify(withCredentials(answer(c!)))).toEqual({
        _tag: "Invalid",
        username: "bob",
        reason: "nonce not issued here",
      })
      // a nonce made up by the client
      const forged = answer({
        scheme: "Digest",
        params: [
          ["realm", realm],
          ["nonce", "x".repeat(46)],
          ["qop", "auth"],
        ],
      })
      expect((yield* issuer.verify(withCredentials(forged)))._tag).toBe("Invalid")
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.4 the uri parameter must be the Request-URI", () =>
    Effect.gen(function* () {
      const [c] = yield* auth.challenge()
      const r = yield* auth.verify(withCredentials(answer(c!, 1, { uri: "sip:atlanta.example.com" })))
      expect(r).toEqual({ _tag: "Invalid", username: "bob", reason: "uri does not match the Request-URI" })
      // equal per §19.1.4 though written differently
      const ok = yield* auth.verify(withCredentials(answer(c!, 2, { uri: "SIP:BILOXI.example.com" })))
      expect(ok._tag).toBe("Ok")
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.3 credentials for another realm, or none, are Missing", () =>
    Effect.gen(function* () {
      expect(yield* auth.verify(register())).toEqual({ _tag: "Missing" })
      const other = Authenticator.make({ realm: "atlanta.example.com", secret })
      const [c] = yield* other.challenge()
      expect(yield* auth.verify(withCredentials(answer(c!)))).toEqual({ _tag: "Missing" })
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.3 a proxy challenges with 407 / Proxy-Authenticate and reads Proxy-Authorization only", () =>
    Effect.gen(function* () {
      const proxy = Authenticator.make({ realm, secret, kind: "proxy" })
      expect(Challenge.status(proxy.kind)).toBe(407)
      const cs = yield* proxy.challenge()
      expect(Challenge.toHeaders("proxy", "challenge", cs)[0]?.name).toBe("Proxy-Authenticate")
      const a = answer(cs[0]!)
      expect(yield* proxy.verify(withCredentials(a, "www"))).toEqual({ _tag: "Missing" })
      expect((yield* proxy.verify(withCredentials(a, "proxy")))._tag).toBe("Ok")
    }).pipe(Effect.provide(users)),
  )

  it.effect("RFC 7616 §3.4.3 qop=auth-int covers the body", () =>
    Effect.gen(function* () {
      const a = Authenticator.make({ realm, secret })
      const [c] = yield* a.challenge()
      const intOnly: AuthValue = {
        scheme: "Digest",
        params: c!.params.map(([n, v]) => [n, n === "qop" ? "auth-int" : v] as const),
      }
      const body = new TextEncoder().encode("v=0\r\n")
      const cred = answer(intOnly, 1, { body })
      expect(Challenge.param(cred, "qop")).toBe("auth-int")
      expect((yield* a.verify(withCredentials(cred, "www", body)))._tag).toBe("Ok")
      const tampered = new TextEncoder().encode("v=1\r\n")
      expect((yield* a.verify(withCredentials(answer(intOnly, 2, { body }), "www", tampered)))._tag).toBe("Invalid")
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.4 RFC 2069 credentials without qop are accepted unless the server requires qop", () =>
    Effect.gen(function* () {
      const [c] = yield* auth.challenge()
      const noQop: AuthValue = { scheme: "Digest", params: c!.params.filter(([n]) => n !== "qop") }
      const cred = answer(noQop)
      expect(Challenge.param(cred, "nc")).toBeUndefined()
      expect((yield* auth.verify(withCredentials(cred)))._tag).toBe("Ok")
      const strict = Authenticator.make({ realm, secret, allowNoQop: false })
      expect((yield* strict.verify(withCredentials(cred)))._tag).toBe("Invalid")
    }).pipe(Effect.provide(users)),
  )

  it.effect("§25.1 malformed credentials are a typed MalformedAuth error", () =>
    Effect.gen(function* () {
      const raw = (value: string) => register([Header.raw("Authorization", value)])
      const bad = [
        `Digest username="bob", realm=`,
        `Digest username="bob", realm="${realm}", nonce="n", uri="${requestUri}"`,
        `Digest username="bob", realm="${realm}", nonce="n", uri="${requestUri}", response="zz"`,
        `Digest username="bob", realm="${realm}", nonce="n", uri="${requestUri}", response="${"a".repeat(64)}", algorithm=SHA-256, qop=auth, nc=1, cnonce="c"`,
        `Digest username="bob", realm="${realm}", nonce="n", uri="${requestUri}", response="${"a".repeat(64)}", algorithm=SHA-256, qop=auth-conf, nc=00000001, cnonce="c"`,
      ]
      for (const value of bad) {
        const e = yield* Effect.flip(auth.verify(raw(value)))
        expect(e._tag).toBe("MalformedAuth")
      }
    }).pipe(Effect.provide(users)),
  )

  it.effect("§22.4 a Credentials back-end failure is a typed error", () =>
    Effect.gen(function* () {
      const [c] = yield* auth.challenge()
      const e = yield* Effect.flip(auth.verify(withCredentials(answer(c!))))
      expect(e._tag).toBe("CredentialsError")
    }).pipe(
      Effect.provideService(
        Credentials,
        Credentials.of({ lookup: () => Effect.fail(new CredentialsError({ reason: "database down" })) }),
      ),
    ),
  )
})
