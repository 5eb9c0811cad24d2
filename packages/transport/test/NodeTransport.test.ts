import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Message, Parser, type SipRequest } from "@sipfx/message"
import { Ports, Udp } from "@sipfx/peers"
import { Effect, Exit, Fiber, Queue, Stream } from "effect"
import { type Inbound, NodeTransport, Routing, type Transport } from "../src/index.ts"
import { collect, optionsText } from "./helpers.ts"
import { portOf, responder } from "./responder.ts"

const parseRequest = (text: string): SipRequest => {
  const r = Parser.parse(new TextEncoder().encode(text))
  if (r._tag !== "Ok" || r.message._tag !== "SipRequest") throw new Error(`test message does not parse: ${text}`)
  return r.message
}

/** Next inbound message on `transport`, or fail after `ms`. */
const nextInbound = (transport: Transport["Service"], ms = 3000) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Inbound>()
    yield* transport.subscribe((i) => {
      Queue.offerUnsafe(queue, i)
    })
    return Queue.take(queue).pipe(Effect.timeout(ms))
  })

const viaLine = (text: string) => text.split("\r\n").find((l) => l.startsWith("Via:")) ?? ""

describe("NodeTransport UDP", () => {
  it.live("§18.2.1 + RFC 3581 §4: received and rport stamped, response sent to them", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["udp://127.0.0.1:0"] })
      const { reply, localPort } = yield* Effect.promise(() =>
        Udp.exchange(portOf(t, "UDP"), optionsText({ viaHost: "client.example.com", viaPort: 9, rport: true })),
      )
      expect(reply.startsWith("SIP/2.0 200 OK\r\n")).toBe(true)
      const via = viaLine(reply)
      expect(via).toContain(`rport=${localPort}`)
      expect(via).toContain("received=127.0.0.1")
    }).pipe(Effect.scoped),
  )

  it.live("§18.2.1: no received when sent-by already is the source address", () =>
    Effect.gen(function* () {
      const t = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
      const take = yield* nextInbound(t)
      yield* Effect.promise(() => Udp.silence(portOf(t, "UDP"), optionsText({ viaHost: "127.0.0.1" }), 50))
      const inbound = yield* take
      expect(inbound.source.protocol).toBe("UDP")
      expect(inbound.source.address).toBe("127.0.0.1")
      expect(inbound.source.connectionId).toBeUndefined()
      const via = inbound.message.headers.find((h) => h.name === "Via")!.value
      expect(via).not.toContain("received")
    }).pipe(Effect.scoped),
  )

  it.live("§21.4.1 malformed request with Via/Call-ID/CSeq/From/To gets a stateless 400; the rest is dropped", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["udp://127.0.0.1:0"], limits: { maxDatagramSize: 4000 } })
      const port = portOf(t, "UDP")
      // a bad Max-Forwards value, everything needed for a response intact
      const broken = optionsText({ viaHost: "127.0.0.1" }).replace("Max-Forwards: 70", "Max-Forwards: seventy")
      const { reply } = yield* Effect.promise(() => Udp.exchange(port, broken))
      expect(reply).toMatch(/^SIP\/2\.0 400 /)
      expect(reply).toContain("CSeq: 1 OPTIONS")
      expect(reply).toMatch(/\r\nTo: <sip:bob@example\.com>;tag=/)
      // §8.2.2.1 / §21.5.6: an unsupported SIP version gets 505
      const v3 = optionsText({ viaHost: "127.0.0.1", rport: true }).replace(" SIP/2.0\r\n", " SIP/3.0\r\n")
      const { reply: versionReply } = yield* Effect.promise(() => Udp.exchange(port, v3))
      expect(versionReply).toMatch(/^SIP\/2\.0 505 /)
      // no Call-ID: nothing to answer with
      const noCallId = optionsText({ viaHost: "127.0.0.1" }).replace(/Call-ID: [^\r]*\r\n/, "")
      expect(yield* Effect.promise(() => Udp.silence(port, noCallId))).toEqual([])
      // a broken response is dropped
      expect(yield* Effect.promise(() => Udp.silence(port, "SIP/2.0 2OO OK\r\nVia: x\r\n\r\n"))).toEqual([])
      // an oversized datagram is dropped before parsing
      const big = optionsText({ viaHost: "127.0.0.1", body: "x".repeat(5000) })
      expect(yield* Effect.promise(() => Udp.silence(port, big))).toEqual([])
      // still serving
      const { reply: ok } = yield* Effect.promise(() =>
        Udp.exchange(port, optionsText({ viaHost: "127.0.0.1", rport: true })),
      )
      expect(ok).toMatch(/^SIP\/2\.0 200 OK/)
      const stats = t.stats!()
      expect(stats.malformed).toBe(4)
      expect(stats.rejected).toBe(2)
      expect(stats.dropped).toBe(2)
      expect(stats.oversized).toBe(1)
    }).pipe(Effect.scoped),
  )

  it.live("§18.1.1 a UDP request above 1300 bytes goes over TCP, with Via changed to TCP", () =>
    Effect.gen(function* () {
      const a = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0", "tcp://127.0.0.1:0"] })
      const b = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0", "tcp://127.0.0.1:0"] })
      const take = yield* nextInbound(b)
      const big = Routing.prepareRequest(parseRequest(optionsText({ body: "x".repeat(1400) })), a.listenPoints[0]!)
      // the same port number on both protocols is the usual case; here they differ, so aim at b's TCP port
      yield* a.send(big, { protocol: "UDP", address: "127.0.0.1", port: portOf(b, "TCP") })
      const inbound = yield* take
      expect(inbound.source.protocol).toBe("TCP")
      const via = inbound.message.headers.find((h) => h.name === "Via")!.value
      expect(via).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1:/)
      expect(via).toContain(`:${portOf(a, "TCP")};`)
      // a small one stays on UDP
      const take2 = yield* nextInbound(b)
      const small = Routing.prepareRequest(parseRequest(optionsText()), a.listenPoints[0]!)
      yield* a.send(small, { protocol: "UDP", address: "127.0.0.1", port: portOf(b, "UDP") })
      expect((yield* take2).source.protocol).toBe("UDP")
    }).pipe(Effect.scoped),
  )

  it.live("§18.1.1 sendNow: UDP in one plain call, the large request still over TCP, failures to onError", () =>
    Effect.gen(function* () {
      const a = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0", "tcp://127.0.0.1:0"] })
      const b = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0", "tcp://127.0.0.1:0"] })
      const errors: Array<string> = []
      const onError = (e: { readonly reason: string }) => errors.push(e.reason)
      const take = yield* nextInbound(b)
      const small = Routing.prepareRequest(parseRequest(optionsText()), a.listenPoints[0]!)
      a.sendNow!(small, { protocol: "UDP", address: "127.0.0.1", port: portOf(b, "UDP") }, onError)
      expect((yield* take).source.protocol).toBe("UDP")
      const take2 = yield* nextInbound(b)
      const big = Routing.prepareRequest(parseRequest(optionsText({ body: "x".repeat(1400) })), a.listenPoints[0]!)
      a.sendNow!(big, { protocol: "UDP", address: "127.0.0.1", port: portOf(b, "TCP") }, onError)
      expect((yield* take2).source.protocol).toBe("TCP")
      // no IPv6 listener: the send fails, and says why
      a.sendNow!(small, { protocol: "UDP", address: "::1", port: 5060 }, onError)
      yield* Effect.sleep("50 millis")
      expect(errors).toEqual(["NoListener"])
    }).pipe(Effect.scoped),
  )

  it.live("IPv6 ::1 over UDP and TCP", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["udp://[::1]:0", "tcp://[::1]:0"] })
      const { reply } = yield* Effect.promise(() =>
        Udp.exchange(portOf(t, "UDP"), optionsText({ viaHost: "[::1]", rport: true }), "::1"),
      )
      expect(reply).toMatch(/^SIP\/2\.0 200 OK/)
      const socket = net.connect({ host: "::1", port: portOf(t, "TCP") })
      const text = yield* Effect.promise(() => {
        const p = collect(socket, (s) => s.includes("\r\n\r\n"))
        socket.write(optionsText({ transport: "TCP", viaHost: "[::1]" }))
        return p
      })
      socket.destroy()
      expect(text).toMatch(/^SIP\/2\.0 200 OK/)
    }).pipe(Effect.scoped),
  )

  it.live("§18.1.1 multicast: a REGISTER to sip.mcast.net 224.0.1.75 (§10.2.6) reaches the group on lo", () =>
    Effect.gen(function* () {
      const member = yield* NodeTransport.make({ listen: ["udp://0.0.0.0:0?multicast=224.0.1.75&interface=127.0.0.1"] })
      const sender = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
      const take = yield* nextInbound(member)
      const register = parseRequest(
        optionsText({ target: "sip:sip.mcast.net" })
          .replace("OPTIONS sip:sip.mcast.net", "REGISTER sip:sip.mcast.net")
          .replace("CSeq: 1 OPTIONS", "CSeq: 1 REGISTER"),
      )
      const prepared = Routing.prepareRequest(register, sender.listenPoints[0]!)
      yield* sender.send(prepared, { protocol: "UDP", address: "224.0.1.75", port: portOf(member, "UDP") })
      const inbound = yield* take
      expect(inbound.message._tag === "SipRequest" && inbound.message.method).toBe("REGISTER")
      expect(inbound.source.address).toBe("127.0.0.1")
    }).pipe(Effect.scoped),
  )
})

describe("NodeTransport streams", () => {
  it.live("§18.2.2 a response goes back on the connection the TCP request came on", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["tcp://127.0.0.1:0"] })
      const socket = net.connect({ host: "127.0.0.1", port: portOf(t, "TCP") })
      const text = yield* Effect.promise(() => {
        const p = collect(socket, (s) => s.includes("\r\n\r\n"))
        // sent-by port 9 (discard): only the connection can carry the answer
        socket.write(optionsText({ transport: "TCP", viaHost: "client.example.com", viaPort: 9 }))
        return p
      })
      socket.destroy()
      expect(text).toMatch(/^SIP\/2\.0 200 OK/)
      expect(viaLine(text)).toContain("received=127.0.0.1")
    }).pipe(Effect.scoped),
  )

  it.live("§18.1.1 connection reuse: requests to the same peer share one TCP connection, answers come back on it", () =>
    Effect.gen(function* () {
      const a = yield* NodeTransport.make({ listen: ["tcp://127.0.0.1:0"] })
      const b = yield* responder({ listen: ["tcp://127.0.0.1:0"] })
      const atB = yield* Queue.unbounded<Inbound>()
      yield* b.subscribe((i) => {
        Queue.offerUnsafe(atB, i)
      })
      const atA = yield* Queue.unbounded<Inbound>()
      yield* a.subscribe((i) => {
        Queue.offerUnsafe(atA, i)
      })
      const to = { protocol: "TCP" as const, address: "127.0.0.1", port: portOf(b, "TCP") }
      for (let i = 0; i < 3; i++) {
        yield* a.send(Routing.prepareRequest(parseRequest(optionsText()), a.listenPoints[0]!), to)
      }
      const seen = [yield* Queue.take(atB), yield* Queue.take(atB), yield* Queue.take(atB)]
      expect(new Set(seen.map((i) => i.source.connectionId)).size).toBe(1)
      const answers = [yield* Queue.take(atA), yield* Queue.take(atA), yield* Queue.take(atA)]
      expect(answers.every((i) => i.message._tag === "SipResponse" && i.message.status === 200)).toBe(true)
      expect(new Set(answers.map((i) => i.source.connectionId)).size).toBe(1)
    }).pipe(Effect.scoped, Effect.timeout(5000)),
  )

  it.live("typed failure: sending over TCP to a closed port fails with reason Refused", () =>
    Effect.gen(function* () {
      const a = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
      const port = yield* Effect.promise(() => Ports.freePort())
      const exit = yield* Effect.exit(
        a.send(parseRequest(optionsText()), { protocol: "TCP", address: "127.0.0.1", port }),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain('"reason":"Refused"')
    }).pipe(Effect.scoped),
  )

  it.live("typed failure: a response too big for one datagram fails with reason TooLarge", () =>
    Effect.gen(function* () {
      const a = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
      const request = parseRequest(optionsText({ viaHost: "127.0.0.1" }))
      const huge = Message.withBody(Message.response(request, 200), new Uint8Array(70_000), "text/plain")
      const error = yield* Effect.flip(a.send(huge, { protocol: "UDP", address: "127.0.0.1", port: 9 }))
      expect(error.reason).toBe("TooLarge")
    }).pipe(Effect.scoped),
  )

  it.live("RFC 5626 §3.5.1: a CRLFCRLF ping gets a CRLF pong", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["tcp://127.0.0.1:0"] })
      const socket = net.connect({ host: "127.0.0.1", port: portOf(t, "TCP") })
      const text = yield* Effect.promise(() => {
        const p = collect(socket, (s) => s.length >= 2)
        socket.write("\r\n\r\n")
        return p
      })
      expect(text).toBe("\r\n")
      socket.destroy()
      expect(t.stats!().pongs).toBe(1)
    }).pipe(Effect.scoped),
  )

  it.live("§18.3 limits: a garbage-sending peer is disconnected while another connection keeps its answers", () =>
    Effect.gen(function* () {
      const t = yield* responder({
        listen: ["tcp://127.0.0.1:0"],
        limits: { maxMessageSize: 4096, maxHeaderBytes: 2048 },
      })
      const port = portOf(t, "TCP")
      const good = net.connect({ host: "127.0.0.1", port })
      const bad = net.connect({ host: "127.0.0.1", port })
      const closed = new Promise<boolean>((resolve) => bad.on("close", () => resolve(true)))
      bad.on("error", () => {})
      // a header block that never ends: more than maxHeaderBytes without the blank line
      bad.write(`OPTIONS sip:x SIP/2.0\r\n${"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(100)}`)
      expect(yield* Effect.promise(() => closed)).toBe(true)
      const text = yield* Effect.promise(() => {
        const p = collect(good, (s) => s.includes("\r\n\r\n"))
        good.write(optionsText({ transport: "TCP", viaHost: "127.0.0.1" }))
        return p
      })
      expect(text).toMatch(/^SIP\/2\.0 200 OK/)
      // a Content-Length above maxMessageSize closes that connection too
      const big = net.connect({ host: "127.0.0.1", port })
      big.on("error", () => {})
      const bigClosed = new Promise<boolean>((resolve) => big.on("close", () => resolve(true)))
      big.write(optionsText({ transport: "TCP" }).replace("Content-Length: 0", "Content-Length: 100000"))
      expect(yield* Effect.promise(() => bigClosed)).toBe(true)
      good.destroy()
      expect(t.stats!().disconnected).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.scoped),
  )

  it.live("limits: connections per remote address are capped", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["tcp://127.0.0.1:0"], limits: { maxConnectionsPerAddress: 2 } })
      const port = portOf(t, "TCP")
      const open = () => net.connect({ host: "127.0.0.1", port }).on("error", () => {})
      const [c1, c2] = [open(), open()]
      yield* Effect.sleep("100 millis")
      const c3 = open()
      const closed = yield* Effect.promise(() => new Promise<boolean>((r) => c3.on("close", () => r(true))))
      expect(closed).toBe(true)
      c1.destroy()
      c2.destroy()
    }).pipe(Effect.scoped, Effect.timeout(3000)),
  )

  it.live("idle timeout closes a silent connection", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["tcp://127.0.0.1:0"], limits: { idleTimeout: 200 } })
      const socket = net.connect({ host: "127.0.0.1", port: portOf(t, "TCP") })
      const started = Date.now()
      yield* Effect.promise(() => new Promise((r) => socket.on("close", r)))
      const elapsed = Date.now() - started
      expect(elapsed).toBeGreaterThanOrEqual(150)
      expect(elapsed).toBeLessThan(1500)
      expect(t.stats!().idleClosed).toBe(1)
    }).pipe(Effect.scoped, Effect.timeout(3000)),
  )
})

describe("NodeTransport lifecycle", () => {
  it.live("closing the Scope closes every socket: the same ports bind again", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => Ports.freePort())
      const wsPort = yield* Effect.promise(() => Ports.freePort())
      const listen = [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`, `ws://127.0.0.1:${wsPort}`]
      const first = yield* Effect.scoped(
        Effect.gen(function* () {
          const t = yield* responder({ listen })
          // a live connection must not keep the port
          const socket = net.connect({ host: "127.0.0.1", port })
          yield* Effect.promise(() => new Promise((r) => socket.on("connect", r)))
          socket.on("error", () => {})
          return t.listenPoints.map((p) => p.port)
        }),
      )
      expect(first).toEqual([port, port, wsPort])
      const second = yield* Effect.scoped(
        Effect.gen(function* () {
          const t = yield* responder({ listen })
          const { reply } = yield* Effect.promise(() =>
            Udp.exchange(port, optionsText({ viaHost: "127.0.0.1", rport: true })),
          )
          expect(reply).toMatch(/^SIP\/2\.0 200/)
          return t.listenPoints.map((p) => p.port)
        }),
      )
      expect(second).toEqual([port, port, wsPort])
    }),
  )

  it.live("a port already taken fails the Layer with a typed TransportError", () =>
    Effect.gen(function* () {
      const t = yield* NodeTransport.make({ listen: ["tcp://127.0.0.1:0"] })
      const exit = yield* Effect.exit(NodeTransport.make({ listen: [`tcp://127.0.0.1:${portOf(t, "TCP")}`] }))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain("TransportError")
    }).pipe(Effect.scoped),
  )

  it.live("incoming Stream delivers what subscribe sees", () =>
    Effect.gen(function* () {
      const t = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
      const fiber = yield* t.incoming.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.sleep("20 millis")
      for (let i = 0; i < 2; i++) {
        yield* Effect.promise(() => Udp.silence(portOf(t, "UDP"), optionsText({ viaHost: "127.0.0.1" }), 10))
      }
      const got = yield* Fiber.join(fiber).pipe(Effect.timeout(3000))
      expect(got.length).toBe(2)
    }).pipe(Effect.scoped),
  )
})
