/** UAC core, forking, CANCEL, 3xx, registration and digest on the simulated network (TestClock). */

import { describe, expect, it } from "@effect/vitest"
import { Authenticator, Challenge, Credentials, fromRecord } from "@sipfx/auth"
import { Headers, Message, type SipRequest } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { Transport } from "@sipfx/transport"
import { Clock, Effect, Exit, Fiber, type Layer } from "effect"
import { TestClock } from "effect/testing"
import { UserAgent } from "../src/index.ts"
import { peer, settle, simUa } from "./sim.ts"

const offer = new TextEncoder().encode("v=0\r\n")
const toTags = (rs: ReadonlyArray<SipRequest>) => rs.map((r) => Message.toTag(r))

const setup = (extra?: Layer.Layer<never>) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 3 })
    const alice = yield* simUa(network, "alice", { aor: "sip:alice@example.com", product: "sipfx-test" }, extra)
    const carol = yield* peer(network, "carol")
    const target = `sip:carol@${carol.address}:${carol.port}`
    return { network, alice, carol, target }
  })

describe("§8.1 UAC core and §13.2 INVITE client", () => {
  it.effect(
    "§8.1.1 out-of-dialog request: Call-ID, From tag, CSeq, z9hG4bK branch, Max-Forwards 70; RFC 3428 MESSAGE each with its own Call-ID and tag",
    () =>
      Effect.gen(function* () {
        const { alice, carol, target } = yield* setup()
        const f1 = yield* Effect.forkChild(alice.ua.message(target, "hello"))
        const f2 = yield* Effect.forkChild(alice.ua.message(target, "again"))
        yield* settle
        const [m1, m2] = carol.requests("MESSAGE")
        expect(Message.branch(m1!)).toMatch(/^z9hG4bK/)
        expect(Message.maxForwards(m1!)).toBe(70)
        expect(Message.cseq(m1!)).toEqual({ seq: 1, method: "MESSAGE" })
        expect(Message.fromTag(m1!)).toBeTruthy()
        expect(Message.toTag(m1!)).toBeUndefined()
        expect(Message.callId(m1!)).not.toBe(Message.callId(m2!))
        expect(Message.fromTag(m1!)).not.toBe(Message.fromTag(m2!))
        expect(new TextDecoder().decode(m1!.body)).toBe("hello")
        expect(Message.header(m1!, "Content-Type")).toBe("text/plain")
        for (const m of [m1!, m2!])
          yield* carol.transport.send(Message.response(m, 200, undefined, { toTag: "c" }), alice.to)
        yield* settle
        expect((yield* Fiber.join(f1)).status).toBe(200)
        expect((yield* Fiber.join(f2)).status).toBe(200)
      }),
  )

  it.effect("§13.2.2.4 forking: every 2xx ACKed (again for a retransmission), the second dialog gets a BYE", () =>
    Effect.gen(function* () {
      const { alice, carol, target } = yield* setup()
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.flatMap(alice.ua.call(target, offer), (c) =>
            Effect.andThen(Effect.sleep(60_000), Effect.succeed(c.id)),
          ),
        ),
      )
      yield* settle
      const invite = carol.requests("INVITE")[0]!
      expect(Message.header(invite, "Contact")).toContain(`:${alice.port}`)
      const contact = { name: "Contact", value: `<sip:carol@${carol.address}:${carol.port}>` }
      const send = (status: number, tag: string) =>
        carol.transport.send(Message.response(invite, status, undefined, { toTag: tag, headers: [contact] }), alice.to)
      yield* send(180, "f1")
      yield* send(180, "f2")
      yield* send(200, "f2")
      yield* settle
      yield* send(200, "f1")
      yield* settle
      yield* send(200, "f2")
      yield* settle
      const acks = carol.requests("ACK")
      expect(toTags(acks)).toEqual(["f2", "f1", "f2"])
      expect(acks.map((a) => Message.cseq(a))).toEqual([1, 1, 1].map((seq) => ({ seq, method: "ACK" })))
      expect(Message.branch(acks[0]!)).not.toBe(Message.branch(invite))
      expect(Message.branch(acks[2]!)).toBe(Message.branch(acks[0]!)) // the same ACK re-sent
      // one BYE transaction (retransmitted by Timer E: the peer does not answer it)
      const byes = () => [...new Map(carol.requests("BYE").map((b) => [Message.branch(b), b])).values()]
      expect(toTags(byes())).toEqual(["f1"])
      // closing the call's Scope sends BYE on the winning dialog
      yield* TestClock.adjust(60_000)
      const id = yield* Fiber.join(fiber)
      expect(id.remoteTag).toBe("f2")
      expect(toTags(byes())).toEqual(["f1", "f2"])
      const bye = byes()[1]!
      expect(Message.cseq(bye)).toEqual({ seq: 2, method: "BYE" })
    }),
  )

  it.effect(
    "§9.1 interrupting a pending call sends CANCEL once a provisional came; the 487 is ACKed by the transaction",
    () =>
      Effect.gen(function* () {
        const { alice, carol, target } = yield* setup()
        const fiber = yield* Effect.forkChild(Effect.scoped(alice.ua.call(target, offer)))
        yield* settle
        const invite = carol.requests("INVITE")[0]!
        yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
        yield* settle
        expect(carol.requests("CANCEL")).toEqual([]) // no provisional yet: CANCEL waits
        yield* carol.transport.send(Message.response(invite, 180, undefined, { toTag: "r" }), alice.to)
        yield* settle
        const cancel = carol.requests("CANCEL")[0]!
        expect(Message.branch(cancel)).toBe(Message.branch(invite))
        expect(Message.cseq(cancel)).toEqual({ seq: 1, method: "CANCEL" })
        yield* carol.transport.send(Message.response(cancel, 200), alice.to)
        yield* carol.transport.send(Message.response(invite, 487, undefined, { toTag: "r" }), alice.to)
        yield* settle
        expect(toTags(carol.requests("ACK"))).toEqual(["r"])
      }),
  )

  it.effect("§8.1.3.4 a 3xx is recursed on its Contact with a higher CSeq, same Call-ID", () =>
    Effect.gen(function* () {
      const { network, alice, carol, target } = yield* setup()
      const dave = yield* peer(network, "dave")
      const f = yield* Effect.forkChild(alice.ua.message(target, "hi"))
      yield* settle
      const first = carol.requests("MESSAGE")[0]!
      yield* carol.transport.send(
        Message.response(first, 302, undefined, {
          toTag: "x",
          headers: [{ name: "Contact", value: `<sip:dave@${dave.address}:${dave.port}>` }],
        }),
        alice.to,
      )
      yield* settle
      const second = dave.requests("MESSAGE")[0]!
      expect(Message.cseq(second)).toEqual({ seq: 2, method: "MESSAGE" })
      expect(Message.callId(second)).toBe(Message.callId(first))
      yield* dave.transport.send(Message.response(second, 200, undefined, { toTag: "d" }), alice.to)
      yield* settle
      expect((yield* Fiber.join(f)).status).toBe(200)
    }),
  )
})

describe("§8.1.2 outbound proxy and §8.1.3.4 redirect settings", () => {
  it.effect(
    "§8.1.2 an outbound proxy is a pre-loaded ;lr Route: the request goes there, the Request-URI stays the target",
    () =>
      Effect.gen(function* () {
        const network = yield* Network.make({ seed: 4 })
        const proxy = yield* peer(network, "proxy")
        const alice = yield* simUa(network, "alice", {
          aor: "sip:alice@example.com",
          outboundProxy: `sip:${proxy.address}:${proxy.port};lr`,
        })
        const f = yield* Effect.forkChild(alice.ua.message("sip:bob@127.0.0.1:9", "via proxy"))
        yield* settle
        const m = proxy.requests("MESSAGE")[0]!
        expect(m.uri._tag === "SipUri" && m.uri.port).toBe(9)
        expect(Message.headerValues(m, "Route")).toEqual([`<sip:${proxy.address}:${proxy.port};lr>`])
        yield* proxy.transport.send(Message.response(m, 200, undefined, { toTag: "b" }), alice.to)
        yield* settle
        expect((yield* Fiber.join(f)).status).toBe(200)
      }),
  )

  it.effect("§8.1.3.4 with maxRedirects 0 a 3xx is a RequestFailed carrying the response", () =>
    Effect.gen(function* () {
      const network = yield* Network.make({ seed: 4 })
      const carol = yield* peer(network, "carol")
      const alice = yield* simUa(network, "alice", { aor: "sip:alice@example.com", maxRedirects: 0 })
      const f = yield* Effect.forkChild(Effect.flip(alice.ua.message(`sip:carol@${carol.address}:${carol.port}`, "x")))
      yield* settle
      const m = carol.requests("MESSAGE")[0]!
      yield* carol.transport.send(
        Message.response(m, 302, undefined, {
          toTag: "r",
          headers: [{ name: "Contact", value: "<sip:dave@127.0.0.1:9>" }],
        }),
        alice.to,
      )
      yield* settle
      const error = yield* Fiber.join(f)
      expect(error._tag).toBe("RequestFailed")
      if (error._tag === "RequestFailed") expect(error.status).toBe(302)
      expect(carol.requests("MESSAGE").length).toBe(1)
    }),
  )
})

describe("§22.3 INVITE through an authenticating proxy", () => {
  it.effect("§22.3 407 to an INVITE: the transaction ACKs it; the retry carries Proxy-Authorization, CSeq + 1", () =>
    Effect.gen(function* () {
      const { alice, carol, target } = yield* setup(UserAgent.credentials({ username: "alice", password: "secret" }))
      const auth = Authenticator.make({ realm: "example.com", secret: new Uint8Array(32).fill(1), kind: "proxy" })
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.map(alice.ua.call(target, offer), (c) => c.id)))
      yield* settle
      const first = carol.requests("INVITE")[0]!
      const challenge = Effect.runSync(auth.challenge())
      yield* carol.transport.send(
        Message.response(first, 407, undefined, {
          toTag: "p",
          headers: Challenge.toHeaders("proxy", "challenge", challenge),
        }),
        alice.to,
      )
      yield* settle
      expect(toTags(carol.requests("ACK"))).toEqual(["p"])
      const second = carol.requests("INVITE")[1]!
      expect(Message.cseq(second)).toEqual({ seq: 2, method: "INVITE" })
      expect(Message.callId(second)).toBe(Message.callId(first))
      expect(Message.fromTag(second)).toBe(Message.fromTag(first))
      const verified = Effect.runSync(
        Effect.provideService(auth.verify(second), Credentials, fromRecord({ "example.com": { alice: "secret" } })),
      )
      expect(verified._tag).toBe("Ok")
      yield* carol.transport.send(
        Message.response(second, 200, undefined, {
          toTag: "ok",
          headers: [{ name: "Contact", value: `<sip:carol@${carol.address}:${carol.port}>` }],
        }),
        alice.to,
      )
      yield* settle
      expect((yield* Fiber.join(fiber)).remoteTag).toBe("ok")
      expect(toTags(carol.requests("ACK"))).toEqual(["p", "ok"])
    }),
  )
})

// ---- a tiny registrar over the TransactionLayer (§10.3, with digest from @sipfx/auth) ----

const registrar = (
  network: Network.Network["Service"],
  options: {
    readonly algorithms: ReadonlyArray<"MD5" | "SHA-256">
    readonly maxExpires: number
    readonly minExpires: number
  },
) =>
  Effect.gen(function* () {
    const transport = yield* network.endpoint({ name: "registrar" })
    const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    const auth = Authenticator.make({
      realm: "example.com",
      secret: new Uint8Array(32).fill(7),
      algorithms: [...options.algorithms],
    })
    const store = fromRecord({ "example.com": { alice: "secret" } })
    const clock = yield* Clock.Clock
    const registers: Array<{ readonly at: number; readonly request: SipRequest; readonly status: number }> = []
    yield* tl.serve((tx) => {
      const request = tx.request
      const reply = (status: number, headers: ReadonlyArray<{ name: string; value: string }>) => {
        registers.push({ at: clock.currentTimeMillisUnsafe(), request, status })
        tx.respond(Message.response(request, status, undefined, { toTag: "reg", headers }))
      }
      const verified = Effect.runSyncExit(Effect.provideService(auth.verify(request), Credentials, store))
      // malformed credentials: 400 (§22.4 via @sipfx/auth's MalformedAuth)
      if (verified._tag === "Failure") return reply(400, [])
      const result = verified.value
      if (result._tag !== "Ok") {
        const challenge = Effect.runSync(auth.challenge({ stale: result._tag === "Stale" }))
        return reply(401, Challenge.toHeaders("www", "challenge", challenge))
      }
      const asked = Message.first(request, Headers.Expires) ?? 3600
      // §10.3 step 7: below the minimum → 423 with Min-Expires
      if (asked !== 0 && asked < options.minExpires)
        return reply(423, [{ name: "Min-Expires", value: String(options.minExpires) }])
      const granted = Math.min(asked, options.maxExpires)
      return reply(200, [{ name: "Contact", value: `${Message.header(request, "Contact")};expires=${granted}` }])
    })
    const p = transport.listenPoints[0]!
    return { registers, uri: `sip:${p.address}:${p.port}` }
  })

describe("§10.2 registration with digest (§22)", () => {
  for (const algorithm of ["MD5", "SHA-256"] as const) {
    it.effect(
      `§10.2 / §22.2 ${algorithm}: 401 → retry with credentials (qop=auth, nc); refresh before the granted expiry; Expires 0 when the Scope closes`,
      () =>
        Effect.gen(function* () {
          const { network, alice } = yield* setup(UserAgent.credentials({ username: "alice", password: "secret" }))
          const reg = yield* registrar(network, { algorithms: [algorithm], maxExpires: 120, minExpires: 60 })
          yield* Effect.scoped(
            Effect.gen(function* () {
              const fiber = yield* Effect.forkChild(alice.ua.register({ registrar: reg.uri }))
              yield* settle
              const registration = yield* Fiber.join(fiber)
              // the registrar granted 120 s of the 3600 asked
              expect(registration.expires()).toBe(120)
              expect(reg.registers.map((r) => r.status)).toEqual([401, 200])
              const retried = reg.registers[1]!.request
              const authz = Message.header(retried, "Authorization")!
              expect(authz).toContain(`algorithm=${algorithm}`)
              expect(authz).toContain("qop=auth")
              expect(authz).toContain("nc=00000001")
              expect(Message.cseq(retried)?.seq).toBe(Message.cseq(reg.registers[0]!.request)!.seq + 1)
              expect(Message.callId(retried)).toBe(Message.callId(reg.registers[0]!.request))
              // refresh 30 s ahead of the granted 120 s
              yield* TestClock.adjust(89_000)
              expect(reg.registers.length).toBe(2)
              yield* TestClock.adjust(1_000)
              expect(reg.registers.filter((r) => r.status === 200).map((r) => r.at)).toEqual([0, 90_000])
              expect(registration.refreshes()).toBe(2)
            }),
          ).pipe(
            Effect.forkChild,
            Effect.flatMap((f) => Effect.andThen(settle, Fiber.join(f))),
          )
          // the Scope closed: the binding is removed
          const last = reg.registers.at(-1)!
          expect(Message.first(last.request, Headers.Expires)).toBe(0)
          expect(last.status).toBe(200)
        }),
    )
  }

  it.effect("§10.2.8 423 Interval Too Brief: retried with Min-Expires", () =>
    Effect.gen(function* () {
      const { network, alice } = yield* setup(UserAgent.credentials({ username: "alice", password: "secret" }))
      const reg = yield* registrar(network, { algorithms: ["SHA-256"], maxExpires: 3600, minExpires: 60 })
      const fiber = yield* Effect.forkChild(
        Effect.scoped(Effect.map(alice.ua.register({ registrar: reg.uri, expires: 30 }), (r) => r.expires())),
      )
      yield* settle
      expect(yield* Fiber.join(fiber)).toBe(60)
      expect(reg.registers.map((r) => [r.status, Message.first(r.request, Headers.Expires)])).toEqual([
        [401, 30],
        [423, 30],
        [200, 60],
        [200, 0],
      ])
    }),
  )

  it.effect("§22.2 wrong password: a typed AuthenticationFailed after one retry, no loop", () =>
    Effect.gen(function* () {
      const { network, alice } = yield* setup(UserAgent.credentials({ username: "alice", password: "wrong" }))
      const reg = yield* registrar(network, { algorithms: ["MD5"], maxExpires: 3600, minExpires: 60 })
      const fiber = yield* Effect.forkChild(Effect.scoped(alice.ua.register({ registrar: reg.uri })))
      yield* settle
      yield* TestClock.adjust(60_000)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((r) => r._tag === "Fail")
        expect(error && "error" in error ? (error.error as { _tag: string })._tag : undefined).toBe(
          "AuthenticationFailed",
        )
      }
      expect(reg.registers.map((r) => r.status)).toEqual([401, 401])
    }),
  )

  it.effect("§22.2 no credentials for the realm: AuthenticationFailed at the first challenge", () =>
    Effect.gen(function* () {
      const { network, alice } = yield* setup()
      const reg = yield* registrar(network, { algorithms: ["MD5"], maxExpires: 3600, minExpires: 60 })
      const error = yield* Effect.flip(Effect.scoped(alice.ua.register({ registrar: reg.uri })))
      expect(error._tag).toBe("AuthenticationFailed")
      expect(reg.registers.length).toBe(1)
    }),
  )
})
