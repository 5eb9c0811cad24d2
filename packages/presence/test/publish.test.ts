/**
 * PUBLISH (RFC 3903), SUBSCRIBE refusals and fetches (RFC 6665), and the MESSAGE relay's
 * refusals (RFC 3428), against the server of the seed scenario on real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import { Header, Headers, Message, type SipRequest, type SipResponse, Uri } from "@sipfx/message"
import { Ports } from "@sipfx/peers"
import { Effect, Fiber, Stream } from "effect"
import { Pidf } from "../src/index.ts"
import { agent, client, server } from "./harness.ts"

const poisson = "sip:s.poisson@dist.probability.org"
let n = 0

const request = (
  method: string,
  target: string,
  headers: ReadonlyArray<Header.Header>,
  body?: Uint8Array,
): SipRequest =>
  Message.request({
    method,
    uri: Uri.parse(target),
    headers: [
      Header.make(Headers.MaxForwards, 70),
      Header.raw("From", `<${poisson}>;tag=f${n}`),
      Header.raw("To", `<${target}>`),
      Header.make(Headers.CallId, `publish-${n++}@dist.probability.org`),
      Header.make(Headers.CSeq, { seq: 1, method }),
      ...headers,
    ],
    ...(body === undefined ? {} : { body }),
  })

const pidf = (basic: Pidf.Basic, note?: string) =>
  Pidf.encode(Pidf.simple(poisson, basic, { id: "pc", notes: note === undefined ? [] : [note] }))

describe("RFC 3903 PUBLISH and RFC 6665 refusals against the presence server", () => {
  it.live(
    "RFC 3903 §6: initial, refresh, modify, remove with SIP-ETag; 412, 423, 489, 400; watchers see each change",
    () =>
      Effect.gen(function* () {
        const [ps, pc, pw] = yield* Effect.promise(() => Ports.freePorts(3))
        const srv = yield* server(ps)
        const { out } = yield* client(pc)
        const at = `sip:127.0.0.1:${ps}`
        const send = (r: SipRequest): Effect.Effect<SipResponse, unknown> => out.request(r, Uri.parse(at))
        const watcher = yield* agent("sip:pafnuty@lecturehall21.academy.ru", pw, `${at};lr`)
        const sub = yield* watcher.subscriber.subscribe(poisson, "presence", { expires: 600 })
        const seen = yield* Effect.forkChild(sub.notifications.pipe(Stream.take(4), Stream.runCollect))
        const pub = (headers: ReadonlyArray<Header.Header>, body?: Uint8Array) =>
          send(request("PUBLISH", poisson, [Header.raw("Event", "presence"), ...headers], body))
        const ct = Header.raw("Content-Type", Pidf.contentType)

        // §6 step 4: initial publication → 200 with an entity-tag and the granted expiry
        const r1 = yield* pub([Header.make(Headers.Expires, 120), ct], pidf("open", "in the lab"))
        expect(r1.status).toBe(200)
        const tag1 = Message.header(r1, "SIP-ETag")!
        expect(tag1).toMatch(/^[0-9a-f]{16}$/)
        expect(Message.first(r1, Headers.Expires)).toBe(120)
        expect(Pidf.isOpen(srv.presence.document(poisson))).toBe(true)
        // refresh without body → new tag, same state
        const r2 = yield* pub([Header.raw("SIP-If-Match", tag1), Header.make(Headers.Expires, 120)])
        expect(r2.status).toBe(200)
        const tag2 = Message.header(r2, "SIP-ETag")!
        expect(tag2).not.toBe(tag1)
        // the old tag is gone: 412
        expect((yield* pub([Header.raw("SIP-If-Match", tag1), Header.make(Headers.Expires, 120)])).status).toBe(412)
        // modify → closed
        const r3 = yield* pub([Header.raw("SIP-If-Match", tag2), ct], pidf("closed", "gone home"))
        expect(r3.status).toBe(200)
        expect(Pidf.isOpen(srv.presence.document(poisson))).toBe(false)
        // remove with Expires: 0
        const r4 = yield* pub([
          Header.raw("SIP-If-Match", Message.header(r3, "SIP-ETag")!),
          Header.make(Headers.Expires, 0),
        ])
        expect(r4.status).toBe(200)
        // refusals
        expect((yield* pub([Header.make(Headers.Expires, 5), ct], pidf("open"))).status).toBe(423)
        expect((yield* pub([ct])).status).toBe(400) // initial without body
        expect((yield* pub([ct], new TextEncoder().encode("<presence"))).status).toBe(400)
        expect((yield* pub([Header.raw("Content-Type", "text/plain")], pidf("open"))).status).toBe(415)
        const bad = yield* send(request("PUBLISH", poisson, [Header.raw("Event", "weather"), ct], pidf("open")))
        expect(bad.status).toBe(489)

        yield* Effect.timeout(Fiber.join(seen), "3 seconds")
        const notifies = watcher.wire.log.filter(
          (e) => e.dir === "in" && e.message._tag === "SipRequest" && e.message.method === "NOTIFY",
        )
        const states = notifies.map((e) => {
          const d = Pidf.parse(e.message.body)
          return d instanceof Pidf.PidfError ? "bad" : Pidf.isOpen(d) ? "open" : "closed"
        })
        // RFC 3856 §6.7: one NOTIFY per change of the composed document (the refresh changes nothing;
        // the removal leaves the default closed document, without the published note)
        expect(states).toEqual(["closed", "open", "closed", "closed"])
        const notes = notifies.map((e) => (Pidf.parse(e.message.body) as Pidf.Document).tuples.flatMap((t) => t.notes))
        expect(notes).toEqual([[], ["in the lab"], ["gone home"], []])
      }).pipe(Effect.scoped),
    30_000,
  )

  it.live(
    "RFC 3903 §6: a publication expires on its own and watchers are told",
    () =>
      Effect.gen(function* () {
        const [ps, pc, pw] = yield* Effect.promise(() => Ports.freePorts(3))
        yield* server(ps, { publishMinExpires: 1 })
        const { out } = yield* client(pc)
        const at = `sip:127.0.0.1:${ps}`
        const watcher = yield* agent("sip:pafnuty@lecturehall21.academy.ru", pw, `${at};lr`)
        const sub = yield* watcher.subscriber.subscribe(poisson, "presence", { expires: 600 })
        const seen = yield* Effect.forkChild(sub.notifications.pipe(Stream.take(3), Stream.runCollect))
        const r = yield* out.request(
          request(
            "PUBLISH",
            poisson,
            [
              Header.raw("Event", "presence"),
              Header.make(Headers.Expires, 1),
              Header.raw("Content-Type", Pidf.contentType),
            ],
            pidf("open"),
          ),
          Uri.parse(at),
        )
        expect(r.status).toBe(200)
        const got = [...(yield* Effect.timeout(Fiber.join(seen), "5 seconds"))]
        expect(got.map((g) => Pidf.isOpen(Pidf.parse(g.body) as Pidf.Document))).toEqual([false, true, false])
      }).pipe(Effect.scoped),
    30_000,
  )

  it.live(
    "RFC 6665 §4.2.1.1 / §8.3.2: 489 with Allow-Events for an unknown package; 423 for too short; Expires: 0 fetches one NOTIFY terminated",
    () =>
      Effect.gen(function* () {
        const [ps, pw] = yield* Effect.promise(() => Ports.freePorts(2))
        const srv = yield* server(ps)
        const watcher = yield* agent("sip:pafnuty@lecturehall21.academy.ru", pw, `sip:127.0.0.1:${ps};lr`)
        const e1 = yield* Effect.flip(watcher.subscriber.subscribe(poisson, "weather"))
        expect(e1._tag).toBe("SubscribeFailed")
        if (e1._tag === "SubscribeFailed") {
          expect(e1.status).toBe(489)
          expect(Message.header(e1.response!, "Allow-Events")).toBe("presence")
        }
        const e2 = yield* Effect.flip(watcher.subscriber.subscribe(poisson, "presence", { expires: 10 }))
        expect(e2._tag === "SubscribeFailed" && e2.status).toBe(423)
        const fetch = yield* watcher.subscriber.subscribe(poisson, "presence", { expires: 0 })
        expect(fetch.response.status).toBe(200)
        const [only] = [
          ...(yield* Effect.timeout(fetch.notifications.pipe(Stream.take(1), Stream.runCollect), "3 seconds")),
        ]
        expect(only!.state).toBe("terminated")
        expect(only!.reason).toBe("timeout")
        expect(Pidf.isOpen(Pidf.parse(only!.body) as Pidf.Document)).toBe(false)
        yield* Effect.sleep("100 millis")
        expect(srv.presence.notifier.subscriptions()).toEqual([])
        expect(watcher.subscriber.size()).toBe(0)
      }).pipe(Effect.scoped),
    30_000,
  )

  it.live(
    "RFC 3428 §7/§8: MESSAGE to an AOR without contacts → 480; over the size limit → 513; forked to every contact",
    () =>
      Effect.gen(function* () {
        const [ps, pa, pb, pc] = yield* Effect.promise(() => Ports.freePorts(4))
        yield* server(ps, { maxBodySize: 200 })
        const proxy = `sip:127.0.0.1:${ps};lr`
        const sender = yield* agent("sip:pafnuty@lecturehall21.academy.ru", pa, proxy)
        const r480 = yield* Effect.flip(sender.ua.message(poisson, "anyone?"))
        expect((r480 as { status?: number }).status).toBe(480)
        // two devices of Poisson: both get the MESSAGE (forked)
        const d1 = yield* agent(poisson, pb, proxy)
        const d2 = yield* agent(poisson, pc, proxy)
        yield* d1.ua.register({ expires: 600 })
        yield* d2.ua.register({ expires: 600 })
        const m1 = yield* Effect.forkChild(d1.ua.messages.pipe(Stream.take(1), Stream.runCollect))
        const m2 = yield* Effect.forkChild(d2.ua.messages.pipe(Stream.take(1), Stream.runCollect))
        yield* Effect.sleep("20 millis")
        expect((yield* sender.ua.message(poisson, "both of you")).status).toBe(200)
        const got = [...(yield* Fiber.join(m1)), ...(yield* Fiber.join(m2))].map((m) => m.text)
        expect(got).toEqual(["both of you", "both of you"])
        const big = yield* Effect.flip(sender.ua.message(poisson, "x".repeat(201)))
        expect((big as { status?: number }).status).toBe(513)
      }).pipe(Effect.scoped),
    30_000,
  )
})
