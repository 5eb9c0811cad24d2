import { describe, expect, it } from "@effect/vitest"
import { Message, type Via } from "@sipfx/message"
import type { Protocol, Source } from "@sipfx/transport"
import { TransactionLayer } from "../src/index.ts"
import * as F from "./fixtures.ts"

const source = (protocol: Protocol, connectionId?: string): Source => ({
  protocol,
  address: "192.0.2.7",
  port: 40_123,
  connectionId,
  local: { address: "192.0.2.1", port: 5060 },
})

const viaOf = (value: string): Via => Message.topVia(F.request({ method: "OPTIONS", via: value }))!

describe("response routing (RFC 3261 §18.2.2, RFC 3581 §4)", () => {
  it("§18.2.2 reliable: the request's connection, else the source address and the sent-by port", () => {
    const via = viaOf("SIP/2.0/TCP client.example.com:5070;branch=z9hG4bK1;rport")
    expect(TransactionLayer.responseDestination(source("TCP", "c1"), via)).toEqual({
      protocol: "TCP",
      address: "192.0.2.7",
      port: 5070,
      connectionId: "c1",
    })
    // §18.2.2 / §19.1.2: without a sent-by port, the transport's default (5061 for TLS)
    const tls = viaOf("SIP/2.0/TLS client.example.com;branch=z9hG4bK1")
    expect(TransactionLayer.responseDestination(source("TLS", "c2"), tls)).toMatchObject({ port: 5061 })
  })

  it("§18.2.2 unreliable: maddr with the sent-by port, before rport", () => {
    const via = viaOf("SIP/2.0/UDP client.example.com:5070;branch=z9hG4bK1;maddr=239.255.255.1;rport")
    expect(TransactionLayer.responseDestination(source("UDP"), via)).toEqual({
      protocol: "UDP",
      address: "239.255.255.1",
      port: 5070,
    })
  })

  it("RFC 3581 §4: with rport, the source address and port", () => {
    const via = viaOf("SIP/2.0/UDP client.example.com:5070;branch=z9hG4bK1;RPORT")
    expect(TransactionLayer.responseDestination(source("UDP"), via)).toEqual({
      protocol: "UDP",
      address: "192.0.2.7",
      port: 40_123,
    })
  })

  it("§18.2.2 unreliable without rport: the source address (the 'received' value) and the sent-by port", () => {
    const via = viaOf("SIP/2.0/UDP client.example.com;branch=z9hG4bK1")
    expect(TransactionLayer.responseDestination(source("UDP"), via)).toEqual({
      protocol: "UDP",
      address: "192.0.2.7",
      port: 5060,
    })
  })
})
