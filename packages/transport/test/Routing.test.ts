import { describe, expect, it } from "@effect/vitest"
import { Message, Parser, Serializer, type SipRequest } from "@sipfx/message"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Resolver, Routing, type Source, TransportError } from "../src/index.ts"
import { optionsText } from "./helpers.ts"

const parseRequest = (text: string): SipRequest => {
  const r = Parser.parse(new TextEncoder().encode(text))
  if (r._tag !== "Ok" || r.message._tag !== "SipRequest") throw new Error("test message does not parse")
  return r.message
}

const source = (
  address: string,
  port: number,
  protocol: Source["protocol"] = "UDP",
  connectionId?: string,
): Source => ({
  protocol,
  address,
  port,
  connectionId,
  local: { address: "127.0.0.1", port: 5060 },
})

describe("Routing: client side (§18.1.1)", () => {
  it("§18.1.1 prepareRequest fills transport and sent-by, keeps the branch, adds rport on request", () => {
    const request = parseRequest(optionsText({ transport: "UDP", viaHost: "old.example.com", viaPort: 1 }))
    const branch = Message.branch(request)
    const prepared = Routing.prepareRequest(
      request,
      { protocol: "TCP", address: "127.0.0.1", port: 5070 },
      { rport: true },
    )
    const via = Message.topVia(prepared)!
    expect([via.transport, via.host, via.port]).toEqual(["TCP", "127.0.0.1", 5070])
    expect(Message.branch(prepared)).toBe(branch)
    expect(Message.param(via.params, "rport")).toBeNull()
    // RFC 5118 §4.5: IPv6 sent-by in brackets, and the result parses again
    const v6 = Routing.prepareRequest(request, { protocol: "UDP", address: "::1", port: 5060 })
    expect(Message.topVia(v6)!.host).toBe("[::1]")
    expect(Parser.parse(Serializer.serialize(v6))._tag).toBe("Ok")
    // a wildcard bind needs a host to advertise
    const advertised = Routing.prepareRequest(
      request,
      { protocol: "UDP", address: "0.0.0.0", port: 5060 },
      { host: "sip.example.com" },
    )
    expect(Message.topVia(advertised)!.host).toBe("sip.example.com")
  })

  it("§8.1.1.7 a request without Via gets one with a magic-cookie branch", () => {
    const request = parseRequest(optionsText())
    const bare = Message.removeAll(request, "Via")
    const prepared = Routing.prepareRequest(bare, { protocol: "UDP", address: "127.0.0.1", port: 5060 })
    expect(Message.branch(prepared)).toMatch(/^z9hG4bK/)
    expect(prepared.headers.filter((h) => h.name === "Via")).toHaveLength(1)
    expect(Message.topVia(prepared)!.port).toBe(5060)
  })

  it.effect("§8.1.2 requestDestination follows the top Route, else the Request-URI, through the Resolver", () =>
    Effect.gen(function* () {
      const direct = parseRequest(optionsText({ target: "sip:bob@example.com" }))
      expect(yield* Routing.requestDestination(direct)).toEqual([{ protocol: "UDP", address: "127.0.0.1", port: 5060 }])
      const routed = parseRequest(
        optionsText({
          target: "sip:bob@example.com",
          extraHeaders: ["Route: <sip:proxy.example.com;lr;transport=tcp>"],
        }),
      )
      expect(yield* Routing.requestDestination(routed)).toEqual([{ protocol: "TCP", address: "127.0.0.2", port: 5060 }])
      const nowhere = parseRequest(optionsText({ target: "sip:bob@nowhere.example.com" }))
      const error = yield* Effect.flip(Routing.requestDestination(nowhere))
      expect(error).toBeInstanceOf(TransportError)
      expect(error.reason).toBe("Unreachable")
    }).pipe(Effect.provide(Resolver.memory({ "example.com": ["127.0.0.1"], "proxy.example.com": ["127.0.0.2"] }))),
  )
})

describe("Routing: server side (§18.2.1, §18.2.2, RFC 3581)", () => {
  it("§18.2.2 unreliable: received + sent-by port; RFC 3581 §4: received + rport", () => {
    const request = parseRequest(optionsText({ viaHost: "client.example.com", viaPort: 5099 }))
    const stamped = Routing.stampReceived(request, source("192.0.2.7", 40000))
    const response = Message.response(stamped, 200)
    expect(Routing.responseDestination(response)).toEqual({ protocol: "UDP", address: "192.0.2.7", port: 5099 })
    const withRport = Routing.stampReceived(
      parseRequest(optionsText({ viaHost: "192.0.2.7", rport: true })),
      source("192.0.2.7", 40000),
    )
    // RFC 3581 §4: received is added even when the address matches
    expect(Message.param(Message.topVia(withRport)!.params, "received")).toBe("192.0.2.7")
    expect(Routing.responseDestination(Message.response(withRport, 200))).toEqual({
      protocol: "UDP",
      address: "192.0.2.7",
      port: 40000,
    })
  })

  it("§18.2.2 maddr sends to the multicast group on the sent-by port", () => {
    const request = parseRequest(
      optionsText({ viaHost: "192.0.2.7", viaPort: 5070 }).replace(/;branch=/, ";maddr=224.0.1.75;ttl=1;branch="),
    )
    expect(Routing.responseDestination(Message.response(request, 200))).toEqual({
      protocol: "UDP",
      address: "224.0.1.75",
      port: 5070,
    })
  })

  it("§18.2.2 reliable: back on the request's connection", () => {
    const request = parseRequest(optionsText({ transport: "TCP", viaHost: "client.example.com", viaPort: 5099 }))
    const from = source("192.0.2.7", 40001, "TCP", "tcp-1")
    const stamped = Routing.stampReceived(request, from)
    expect(Routing.responseDestination(Message.response(stamped, 200), from)).toEqual({
      protocol: "TCP",
      address: "192.0.2.7",
      port: 5099,
      connectionId: "tcp-1",
    })
  })

  it("§18.2.1 property: with rport, any source address/port is where the response goes", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.boolean(), (address, port, sameHost) => {
        const request = parseRequest(optionsText({ viaHost: sameHost ? address : "ua.example.com", rport: true }))
        const destination = Routing.responseDestination(
          Message.response(Routing.stampReceived(request, source(address, port)), 200),
        )
        return !(destination instanceof TransportError) && destination.address === address && destination.port === port
      }),
      { numRuns: 200 },
    )
  })

  it("§18.1.1 multicast addresses recognised (224.0.0.0/4, ff00::/8)", () => {
    expect(["224.0.1.75", "239.255.255.250", "ff02::1", "FF05::1:3"].map(Routing.isMulticast)).toEqual([
      true,
      true,
      true,
      true,
    ])
    const unicast = ["223.255.255.255", "240.0.0.1", "25.0.0.1", "2001:db8::1", "fe80::1", "127.0.0.1", "::1"]
    expect([...unicast, "example.com", "ff.example.com"].map(Routing.isMulticast)).toEqual(
      unicast.map(() => false).concat(false, false),
    )
  })
})
