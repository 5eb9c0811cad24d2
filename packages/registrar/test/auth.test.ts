import { describe, expect, it } from "@effect/vitest"
import { type Algorithm, Challenge, Client } from "@sipfx/auth"
import { Header, type SipRequest, type SipResponse } from "@sipfx/message"
import { Effect } from "effect"
import { bindingsOf, headerValues, register, setup } from "./harness.ts"

const secret = new TextEncoder().encode("registrar test secret")
const realm = "example.com"
const users = { [realm]: { alice: "wonderland", bob: "builder" } }

const withAuth = (
  request: SipRequest,
  challengeResponse: SipResponse,
  algorithm: Algorithm.Algorithm,
  password: string,
  username = "alice",
) => {
  const challenges = Challenge.challengesOf(challengeResponse, "www")
  if (challenges instanceof Challenge.MalformedAuth) throw challenges
  const chosen = challenges.find((c) => Challenge.param(c, "algorithm") === algorithm)!
  const credentials = Client.respond(chosen, { username, password, method: "REGISTER", uri: "sip:example.com" }, 1)
  if (credentials instanceof Client.UnsupportedChallenge) throw credentials
  return { ...request, headers: [...request.headers, ...Challenge.toHeaders("www", "credentials", [credentials])] }
}

describe("Registrar §10.3 steps 3–4 (digest authentication)", () => {
  for (const algorithm of ["MD5", "SHA-256"] as const) {
    it.effect(`§10.3 step 3 / §22.4: 401 with a ${algorithm} challenge, then 200 with valid credentials`, () =>
      Effect.gen(function* () {
        const h = yield* setup({ auth: { realm, secret, algorithms: ["SHA-256", "MD5"] } }, users)
        const first = yield* h.send(register({ callId: "a1", cseq: 1, expires: 300 }))
        expect(first.status).toBe(401)
        expect(headerValues(first, "WWW-Authenticate").map((v) => /algorithm=([\w-]+)/.exec(v)?.[1])).toEqual([
          "SHA-256",
          "MD5",
        ])
        expect((yield* h.location.size).bindings).toBe(0)
        const second = yield* h.send(
          withAuth(register({ callId: "a1", cseq: 2, expires: 300 }), first, algorithm, "wonderland"),
        )
        expect(second.status).toBe(200)
        expect(bindingsOf(second)).toEqual({ "sip:alice@192.0.2.10:5060": 300 })
      }),
    )
  }

  it.effect("§10.3 step 3: a wrong password is challenged again and stores nothing", () =>
    Effect.gen(function* () {
      const h = yield* setup({ auth: { realm, secret } }, users)
      const first = yield* h.send(register({ callId: "w", cseq: 1 }))
      const second = yield* h.send(withAuth(register({ callId: "w", cseq: 2 }), first, "MD5", "guess"))
      expect(second.status).toBe(401)
      expect((yield* h.location.size).bindings).toBe(0)
    }),
  )

  it.effect("§10.3 step 4: an authenticated user may not register someone else's AOR (403)", () =>
    Effect.gen(function* () {
      const h = yield* setup({ auth: { realm, secret } }, users)
      const first = yield* h.send(register({ user: "alice", callId: "x", cseq: 1 }))
      const asBob = withAuth(register({ user: "alice", callId: "x", cseq: 2 }), first, "SHA-256", "builder", "bob")
      expect((yield* h.send(asBob)).status).toBe(403)
      expect((yield* h.location.size).bindings).toBe(0)
    }),
  )

  it.effect("§10.3 step 3: a malformed Authorization gets 400", () =>
    Effect.gen(function* () {
      const h = yield* setup({ auth: { realm, secret } }, users)
      const bad = register({ extra: [] })
      const r = yield* h.send({
        ...bad,
        headers: [...bad.headers, Header.raw("Authorization", `Digest realm="${realm}", username="alice"`)],
      })
      expect(r.status).toBe(400)
    }),
  )
})
