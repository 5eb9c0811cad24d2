import { describe, expect, it } from "@effect/vitest"
import { Aor } from "@sipfx/location"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { bindingsOf, headerValues, parse, register, setup } from "./harness.ts"

const alice = Aor.fromString("sip:alice@example.com") as Aor.Aor

describe("Registrar §10.3 over a TransactionLayer on simnet", () => {
  it.effect("§10.3 step 1: a Request-URI domain not served here gets 404, nothing stored", () =>
    Effect.gen(function* () {
      const h = yield* setup({ domains: ["example.com"] })
      const r = yield* h.send(register({ domain: "example.net" }))
      expect(r.status).toBe(404)
      expect((yield* h.location.size).bindings).toBe(0)
      expect((yield* h.send(register())).status).toBe(200)
    }),
  )

  it.effect("§8.2.2.1: a Request-URI with a scheme we do not know gets 416", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const r = yield* h.send(register({ requestUri: "tel:+15551234" }))
      expect(r.status).toBe(416)
    }),
  )

  it.effect("§10.3 step 2: Require with an unknown option tag gets 420 with Unsupported", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const r = yield* h.send(register({ extra: ["Require: foo, path", "Supported: path"] }))
      expect(r.status).toBe(420)
      expect(headerValues(r, "Unsupported")).toEqual(["foo"])
      expect((yield* h.location.size).bindings).toBe(0)
    }),
  )

  it.effect("§10.3 step 5: the To URI is the AOR; another domain than the Request-URI's gets 404", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const r = yield* h.send(register({ to: "<sip:alice@example.org>" }))
      expect(r.status).toBe(404)
      const ok = yield* h.send(register({ to: "<sip:alice@EXAMPLE.com;user=phone>" }))
      expect(ok.status).toBe(200)
      expect((yield* h.location.lookup(alice)).length).toBe(1)
    }),
  )

  it.effect("§10.3 step 5: with a closed user list, an unknown user gets 404", () =>
    Effect.gen(function* () {
      const h = yield* setup({ users: ["alice"] })
      expect((yield* h.send(register({ user: "mallory" }))).status).toBe(404)
      expect((yield* h.send(register({ user: "alice" }))).status).toBe(200)
    }),
  )

  it.effect("§10.3 step 5 / RFC 4475 unksm2: a To that is not a SIP URI gets 400", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const bytes = yield* Effect.promise(() =>
        import("node:fs/promises").then((fs) =>
          fs.readFile(new URL("../../message/test/conformance/rfc4475/unksm2.dat", import.meta.url)),
        ),
      )
      const unksm2 = parse(new TextDecoder("latin1").decode(bytes))
      const r = yield* h.send(unksm2)
      expect(r.status).toBe(400)
      expect((yield* h.location.size).bindings).toBe(0)
    }),
  )

  it.effect("§10.3 step 6: Contact: * needs Expires: 0 and no other Contact, else 400", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      expect((yield* h.send(register({ contacts: ["<sip:alice@192.0.2.10>"], callId: "c1", cseq: 1 }))).status).toBe(
        200,
      )
      expect((yield* h.send(register({ contacts: ["*"], expires: 30, callId: "c2" }))).status).toBe(400)
      expect((yield* h.send(register({ contacts: ["*"], callId: "c2" }))).status).toBe(400)
      expect(
        (yield* h.send(register({ contacts: ["*", "<sip:a@192.0.2.11>"], expires: 0, callId: "c2" }))).status,
      ).toBe(400)
      // nothing was lost by the bad requests
      expect((yield* h.location.lookup(alice)).length).toBe(1)
      const ok = yield* h.send(register({ contacts: ["*"], expires: 0, callId: "c2" }))
      expect(ok.status).toBe(200)
      expect(headerValues(ok, "Contact")).toEqual([])
      expect((yield* h.location.lookup(alice)).length).toBe(0)
    }),
  )

  it.effect("§10.3 step 7: expires from the Contact param, else the Expires header, else the default", () =>
    Effect.gen(function* () {
      const h = yield* setup({ defaultExpires: 3600, maxExpires: 7200 })
      const r = yield* h.send(
        register({
          contacts: ["<sip:a@192.0.2.10>;expires=120", "<sip:b@192.0.2.10>", "<sip:c@192.0.2.10>;expires=99999"],
          expires: 600,
        }),
      )
      expect(r.status).toBe(200)
      expect(bindingsOf(r)).toEqual({ "sip:a@192.0.2.10": 120, "sip:b@192.0.2.10": 600, "sip:c@192.0.2.10": 7200 })
      const d = yield* h.send(register({ user: "dave", contacts: ["<sip:dave@192.0.2.10>"] }))
      expect(bindingsOf(d)).toEqual({ "sip:dave@192.0.2.10": 3600 })
    }),
  )

  it.effect("§10.3 step 7: an interval below the minimum gets 423 with Min-Expires, nothing stored", () =>
    Effect.gen(function* () {
      const h = yield* setup({ minExpires: 60 })
      const r = yield* h.send(register({ contacts: ["<sip:a@192.0.2.10>;expires=30", "<sip:b@192.0.2.10>"] }))
      expect(r.status).toBe(423)
      expect(headerValues(r, "Min-Expires")).toEqual(["60"])
      expect((yield* h.location.size).bindings).toBe(0)
      expect((yield* h.send(register({ expires: 60 }))).status).toBe(200)
    }),
  )

  it.effect("§10.3 step 7: same Call-ID with a CSeq not higher fails with 500 and changes nothing", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      expect((yield* h.send(register({ callId: "same", cseq: 5, expires: 300 }))).status).toBe(200)
      const old = yield* h.send(register({ callId: "same", cseq: 5, expires: 0 }))
      expect(old.status).toBe(500)
      const older = yield* h.send(register({ callId: "same", cseq: 4, expires: 0 }))
      expect(older.status).toBe(500)
      expect((yield* h.location.lookup(alice)).length).toBe(1)
      // a higher CSeq, or another Call-ID, updates
      const newer = yield* h.send(register({ callId: "same", cseq: 6, expires: 900 }))
      expect(bindingsOf(newer)).toEqual({ "sip:alice@192.0.2.10:5060": 900 })
      const other = yield* h.send(register({ callId: "other", cseq: 1, expires: 0 }))
      expect(other.status).toBe(200)
      expect((yield* h.location.lookup(alice)).length).toBe(0)
    }),
  )

  it.effect("§10.3 step 7/§10.2.1.1: a binding expires on the clock; expires=0 removes it", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.send(register({ contacts: ["<sip:a@192.0.2.10>", "<sip:b@192.0.2.10>;expires=3000"], expires: 120 }))
      yield* TestClock.adjust("100 seconds")
      const q = yield* h.send(register({ contacts: [] }))
      expect(bindingsOf(q)).toEqual({ "sip:a@192.0.2.10": 20, "sip:b@192.0.2.10": 2900 })
      yield* TestClock.adjust("21 seconds")
      expect((yield* h.location.lookup(alice)).map((b) => b.contact)).toEqual(["sip:b@192.0.2.10"])
      const removed = yield* h.send(register({ contacts: ["<sip:b@192.0.2.10>"], expires: 0 }))
      expect(removed.status).toBe(200)
      expect(bindingsOf(removed)).toEqual({})
    }),
  )

  it.effect("§10.3 step 8: the 200 lists every binding with expires (q kept, highest first) and a Date", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.send(register({ contacts: ["<sip:low@192.0.2.10>;q=0.1"], expires: 300, callId: "x" }))
      const r = yield* h.send(register({ contacts: ["<sip:high@192.0.2.11>;q=0.9"], expires: 600, callId: "y" }))
      expect(r.status).toBe(200)
      expect(headerValues(r, "Contact")).toEqual([
        "<sip:high@192.0.2.11>;expires=600;q=0.9",
        "<sip:low@192.0.2.10>;expires=300;q=0.1",
      ])
      const date = headerValues(r, "Date")
      expect(date).toHaveLength(1)
      expect(date[0]).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
      // §8.2.6.2: the response carries a To tag
      expect(headerValues(r, "To")[0]).toMatch(/;tag=/)
    }),
  )

  it.effect("§10.3 step 8 / §20.17: the Date of the 200 is the registrar's Clock, to the second", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const dateOf = (r: Parameters<typeof headerValues>[0]) => headerValues(r, "Date")[0]
      yield* TestClock.adjust(3_723_100) // 01:02:03.1 on the first day of the TestClock's epoch
      const first = yield* h.send(register({ expires: 300, callId: "d", cseq: 1 }))
      expect(dateOf(first)).toBe("Thu, 01 Jan 1970 01:02:03 GMT")
      yield* TestClock.adjust(800)
      expect(dateOf(yield* h.send(register({ expires: 300, callId: "d", cseq: 2 })))).toBe(
        "Thu, 01 Jan 1970 01:02:03 GMT",
      )
      yield* TestClock.adjust(100)
      expect(dateOf(yield* h.send(register({ expires: 300, callId: "d", cseq: 3 })))).toBe(
        "Thu, 01 Jan 1970 01:02:04 GMT",
      )
    }),
  )

  it.effect("§10.3 step 8: a REGISTER without Contact is a query and changes nothing", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.send(register({ expires: 300 }))
      const q = yield* h.send(register({ contacts: [] }))
      expect(bindingsOf(q)).toEqual({ "sip:alice@192.0.2.10:5060": 300 })
      expect((yield* h.location.size).bindings).toBe(1)
    }),
  )

  it.effect("RFC 3327 §5.3: Path is stored and echoed with Supported: path; without support 420", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const refused = yield* h.send(register({ extra: ["Path: <sip:edge.example.com;lr>"] }))
      expect(refused.status).toBe(420)
      expect(headerValues(refused, "Unsupported")).toEqual(["path"])
      const r = yield* h.send(
        register({ extra: ["Supported: path", "Path: <sip:edge.example.com;lr>, <sip:p2.example.com;lr>"] }),
      )
      expect(r.status).toBe(200)
      expect(headerValues(r, "Path")).toEqual(["<sip:edge.example.com;lr>", "<sip:p2.example.com;lr>"])
      expect(headerValues(r, "Supported")).toEqual(["path"])
      const [b] = yield* h.location.lookup(alice)
      expect(b!.path).toEqual(["<sip:edge.example.com;lr>", "<sip:p2.example.com;lr>"])
      expect(b!.received).toMatchObject({ transport: "UDP", address: "192.0.2.10", port: 5060 })
    }),
  )

  it.effect("§10.3 step 6 / RFC 4475: malformed contacts and bad q-values get 400, stored bindings stay", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.send(register({ expires: 300, callId: "keep" }))
      expect((yield* h.send(register({ contacts: ["<name:John_Smith>"], callId: "bad" }))).status).toBe(400)
      // values the wire parser would already refuse, handed to the registrar directly
      for (const contact of ["<sip:a@192.0.2.10", "<sip:a@192.0.2.10>;q=1.5", "<sip:a@192.0.2.10>;q=abc"]) {
        const raw = register({ callId: "bad2" })
        const headers = [...raw.headers.filter((x) => x.name !== "Contact"), { name: "Contact", value: contact }]
        expect((yield* h.send({ ...raw, headers })).status, contact).toBe(400)
      }
      expect(Object.keys(bindingsOf(yield* h.send(register({ contacts: [] }))))).toEqual(["sip:alice@192.0.2.10:5060"])
    }),
  )

  it.effect("§8.2.1: other methods get 405 with Allow from the registrar-only role", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const opts = parse(
        [
          "OPTIONS sip:example.com SIP/2.0",
          "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-opt-1",
          "To: <sip:example.com>",
          "From: <sip:alice@example.com>;tag=1",
          "Call-ID: opt-1",
          "CSeq: 1 OPTIONS",
          "",
        ].join("\r\n"),
      )
      const r = yield* h.send(opts)
      expect(r.status).toBe(405)
      expect(headerValues(r, "Allow")).toEqual(["REGISTER"])
    }),
  )

  it.effect("§9.2: a CANCEL matching an INVITE the registrar answered 405 gets 200; one matching nothing 481", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const request = (method: string, branch: string) =>
        parse(
          [
            `${method} sip:alice@example.com SIP/2.0`,
            `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${branch}`,
            "To: <sip:alice@example.com>",
            "From: <sip:bob@example.com>;tag=1",
            "Call-ID: cancel-1",
            `CSeq: 1 ${method}`,
            "",
          ].join("\r\n"),
        )
      expect((yield* h.send(request("INVITE", "z9hG4bK-inv-1"))).status).toBe(405)
      expect((yield* h.send(request("CANCEL", "z9hG4bK-inv-1"))).status).toBe(200)
      expect((yield* h.send(request("CANCEL", "z9hG4bK-none"))).status).toBe(481)
    }),
  )
})
