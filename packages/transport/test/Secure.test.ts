import * as tls from "node:tls"
import { describe, expect, it } from "@effect/vitest"
import { Parser, type SipRequest } from "@sipfx/message"
import { Effect, Exit, Queue } from "effect"
import { beforeAll } from "vitest"
import { WebSocket } from "ws"
import { type Inbound, NodeTransport, Routing } from "../src/index.ts"
import { collect, makeCertificate, optionsText } from "./helpers.ts"
import { portOf, responder } from "./responder.ts"

let cert: { key: string; cert: string }
let otherCert: { key: string; cert: string }
beforeAll(async () => {
  cert = await makeCertificate()
  otherCert = await makeCertificate()
})

const parseRequest = (text: string): SipRequest => {
  const r = Parser.parse(new TextEncoder().encode(text))
  if (r._tag !== "Ok" || r.message._tag !== "SipRequest") throw new Error("test message does not parse")
  return r.message
}

/** Opens a WebSocket, sends `text` as one frame, resolves with the first frame back. */
const wsExchange = (url: string, text: string, binary: boolean) =>
  new Promise<{ reply: string; protocol: string }>((resolve, reject) => {
    const ws = new WebSocket(url, "sip")
    const timer = setTimeout(() => reject(new Error("no WebSocket reply")), 3000)
    ws.on("open", () => ws.send(binary ? Buffer.from(text) : text, { binary }))
    ws.on("message", (data) => {
      clearTimeout(timer)
      const protocol = ws.protocol
      ws.close()
      resolve({ reply: String(data), protocol })
    })
    ws.on("error", reject)
  })

describe("TLS (RFC 3261 §26.2)", () => {
  it.live("§18.2.2 OPTIONS over TLS with a certificate made at test time; response on the same connection", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["tls://127.0.0.1:0"], tls: cert })
      const socket = tls.connect({ host: "127.0.0.1", port: portOf(t, "TLS"), ca: cert.cert })
      const text = yield* Effect.promise(() => {
        const p = collect(socket, (s) => s.includes("\r\n\r\n"))
        socket.on("secureConnect", () => socket.write(optionsText({ transport: "TLS", viaHost: "127.0.0.1" })))
        return p
      })
      socket.destroy()
      expect(text).toMatch(/^SIP\/2\.0 200 OK/)
      expect(text).toContain("Via: SIP/2.0/TLS 127.0.0.1")
    }).pipe(Effect.scoped),
  )

  it.live("§26.3.1 transport to transport over TLS; an untrusted certificate fails with reason Tls", () =>
    Effect.gen(function* () {
      const b = yield* responder({ listen: ["tls://127.0.0.1:0"], tls: cert })
      const a = yield* NodeTransport.make({ listen: ["tls://127.0.0.1:0"], tls: { ...cert, ca: cert.cert } })
      const answers = yield* Queue.unbounded<Inbound>()
      yield* a.subscribe((i) => {
        Queue.offerUnsafe(answers, i)
      })
      const request = Routing.prepareRequest(parseRequest(optionsText()), a.listenPoints[0]!)
      yield* a.send(request, { protocol: "TLS", address: "127.0.0.1", port: portOf(b, "TLS") })
      const answer = yield* Queue.take(answers).pipe(Effect.timeout(3000))
      expect(answer.message._tag === "SipResponse" && answer.message.status).toBe(200)
      expect(answer.source.protocol).toBe("TLS")
      // a client trusting only another certificate refuses b
      const c = yield* NodeTransport.make({ listen: ["tls://127.0.0.1:0"], tls: { ...otherCert, ca: otherCert.cert } })
      const exit = yield* Effect.exit(
        c.send(request, { protocol: "TLS", address: "127.0.0.1", port: portOf(b, "TLS") }),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain('"reason":"Tls"')
    }).pipe(Effect.scoped),
  )
})

describe("WebSocket (RFC 7118)", () => {
  it.live("§5 a ws client with subprotocol sip exchanges OPTIONS/200 in text and binary frames", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["ws://127.0.0.1:0"] })
      const url = `ws://127.0.0.1:${portOf(t, "WS")}`
      for (const binary of [false, true]) {
        const { reply, protocol } = yield* Effect.promise(() =>
          wsExchange(url, optionsText({ transport: "WS", viaHost: "df7jal23ls0d.invalid", viaPort: 0 }), binary),
        )
        expect(protocol).toBe("sip")
        expect(reply).toMatch(/^SIP\/2\.0 200 OK/)
        expect(reply).toContain("Via: SIP/2.0/WS df7jal23ls0d.invalid")
      }
    }).pipe(Effect.scoped),
  )

  it.live("§4.1 a handshake without the sip subprotocol is refused", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["ws://127.0.0.1:0"] })
      const status = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(`ws://127.0.0.1:${portOf(t, "WS")}`)
            ws.on("unexpected-response", (_req, res) => {
              resolve(res.statusCode ?? 0)
              ws.terminate()
            })
            ws.on("open", () => resolve(101))
            ws.on("error", () => {})
          }),
      )
      expect(status).toBe(400)
    }).pipe(Effect.scoped),
  )

  it.live("WSS: secure WebSocket with the generated certificate, and transport-to-transport WS", () =>
    Effect.gen(function* () {
      const t = yield* responder({ listen: ["wss://127.0.0.1:0", "ws://127.0.0.1:0"], tls: cert })
      const reply = yield* Effect.promise(
        () =>
          new Promise<string>((resolve, reject) => {
            const ws = new WebSocket(`wss://127.0.0.1:${portOf(t, "WSS")}`, "sip", { ca: cert.cert })
            ws.on("open", () => ws.send(optionsText({ transport: "WSS", viaHost: "client.invalid" })))
            ws.on("message", (d) => {
              ws.close()
              resolve(String(d))
            })
            ws.on("error", reject)
          }),
      )
      expect(reply).toMatch(/^SIP\/2\.0 200 OK/)
      const a = yield* NodeTransport.make({ listen: ["ws://127.0.0.1:0"] })
      const answers = yield* Queue.unbounded<Inbound>()
      yield* a.subscribe((i) => {
        Queue.offerUnsafe(answers, i)
      })
      yield* a.send(Routing.prepareRequest(parseRequest(optionsText()), a.listenPoints[0]!), {
        protocol: "WS",
        address: "127.0.0.1",
        port: portOf(t, "WS"),
      })
      const answer = yield* Queue.take(answers).pipe(Effect.timeout(3000))
      expect(answer.message._tag === "SipResponse" && answer.message.status).toBe(200)
    }).pipe(Effect.scoped),
  )
})
