/**
 * RFC 3261 §18 and RFC 3581 rules on the top Via, shared by every transport
 * implementation: what a client writes (§18.1.1), what a server records (§18.2.1),
 * and where a response goes (§18.2.2).
 */
import { isIP } from "node:net"
import {
  Headers,
  Message,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type Via,
} from "@sipfx/message"
import { Effect } from "effect"
import { prependVia, replaceTopVia, topVia, viaParam } from "./Codec.ts"
import { type ResolveOptions, Resolver } from "./Resolver.ts"
import { type Destination, type ListenPoint, type Protocol, type Source, TransportError } from "./Transport.ts"

export interface PrepareOptions {
  /** host for sent-by; defaults to the listen point's address */
  readonly host?: string | undefined
  /** ask for symmetric response routing (RFC 3581 §3) */
  readonly rport?: boolean | undefined
}

const magicCookie = "z9hG4bK"
let branchCounter = 0
/** A fresh RFC 3261 branch (§8.1.1.7): magic cookie, random part, counter. */
export const newBranch = (): string =>
  magicCookie + Math.random().toString(36).slice(2, 10) + (branchCounter++ & 0xffffff).toString(36)

// RFC 5118 §4.5: an IPv6 sent-by is written as a reference, in brackets
const bracket = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

const wildcard = (address: string) => address === "0.0.0.0" || address === "::"

/**
 * §18.1.1: fill the top Via's transport and sent-by from where we send. A request
 * without Via gets one with a fresh branch.
 */
export const prepareRequest = (
  request: SipRequest,
  via: ListenPoint | Protocol,
  options?: PrepareOptions,
): SipRequest => {
  const point = typeof via === "string" ? undefined : via
  const transport = typeof via === "string" ? via : via.protocol
  const host = options?.host ?? point?.sentBy ?? (point && !wildcard(point.address) ? point.address : undefined)
  const current = topVia(request)
  const params: Array<readonly [string, string | null]> = current ? [...current.params] : [["branch", newBranch()]]
  if (options?.rport && !params.some(([name]) => name.toLowerCase() === "rport")) params.push(["rport", null])
  const next: Via = {
    protocol: "SIP",
    version: "2.0",
    transport,
    host: host === undefined ? (current?.host ?? "127.0.0.1") : bracket(host),
    port: point ? point.port : current?.port,
    params,
  }
  return current ? replaceTopVia(request, next) : prependVia(request, next)
}

const sameAddress = (a: string, b: string): boolean => {
  if (a === b) return true
  const strip = (x: string) => (x.startsWith("[") ? x.slice(1, -1) : x).toLowerCase()
  const sa = strip(a)
  const sb = strip(b)
  if (sa === sb) return true
  // ::ffff:127.0.0.1 from a dual-stack socket is the same peer as 127.0.0.1
  return sa.replace(/^::ffff:/, "") === sb.replace(/^::ffff:/, "")
}

/**
 * §18.2.1 and RFC 3581 §4 on an inbound request: `received` when sent-by differs
 * from the packet's source, `rport` filled when the client asked for it.
 */
export const stampReceived = (request: SipRequest, source: Source): SipRequest => {
  const via = topVia(request)
  if (via === undefined) return request
  const rport = viaParam(via, "rport")
  const needReceived = !sameAddress(via.host, source.address)
  if (!needReceived && rport !== null) return request
  const params: Array<readonly [string, string | null]> = []
  for (const p of via.params) {
    const name = p[0].toLowerCase()
    if (name === "received") continue
    if (name === "rport") params.push(["rport", String(source.port)])
    else params.push(p)
  }
  // RFC 3581 §4: with rport, received is added even when the host matches
  if (needReceived || rport === null) params.push(["received", source.address])
  return replaceTopVia(request, { ...via, params })
}

const defaultPort = (protocol: Protocol) =>
  protocol === "TLS" ? 5061 : protocol === "WSS" ? 443 : protocol === "WS" ? 80 : 5060

const asProtocol = (transport: string): Protocol | undefined => {
  const t = transport.toUpperCase()
  return t === "UDP" || t === "TCP" || t === "TLS" || t === "WS" || t === "WSS" ? t : undefined
}

const unbracket = (host: string) => (host.startsWith("[") ? host.slice(1, -1) : host)

/**
 * §18.2.2 (+ RFC 3581 §4): where a response goes.
 * Reliable: back on the request's connection, else to received/sent-by port.
 * Unreliable: maddr (multicast), else received + rport, else received + sent-by port.
 */
export const responseDestination = (response: SipResponse, source?: Source): Destination | TransportError => {
  const via = topVia(response)
  if (via === undefined) return new TransportError({ reason: "Encode", message: "response without Via" })
  const protocol = asProtocol(via.transport)
  if (protocol === undefined) {
    return new TransportError({ reason: "Unreachable", message: `unsupported transport ${via.transport}` })
  }
  const received = viaParam(via, "received")
  const rport = viaParam(via, "rport")
  const rportNumber = typeof rport === "string" && rport.length > 0 ? Number(rport) : undefined
  const sentByPort = via.port ?? defaultPort(protocol)
  const address = unbracket(typeof received === "string" && received.length > 0 ? received : via.host)
  if (protocol !== "UDP") {
    return {
      protocol,
      address,
      port: rportNumber ?? sentByPort,
      connectionId: source?.connectionId,
    }
  }
  const maddr = viaParam(via, "maddr")
  if (typeof maddr === "string" && maddr.length > 0) return { protocol, address: unbracket(maddr), port: sentByPort }
  if (rportNumber !== undefined) return { protocol, address, port: rportNumber }
  return { protocol, address, port: sentByPort }
}

const routeUri = (request: SipRequest): SipUri | undefined => {
  // §8.1.2: the first Route when present (loose routing), else the Request-URI
  const route = Message.first(request, Headers.Route)
  const uri = route ? route.uri : request.uri
  return uri._tag === "SipUri" ? uri : undefined
}

/** §8.1.2 + RFC 3263: the destinations to try for a request, in failover order. */
export const requestDestination = (
  request: SipRequest,
  options?: ResolveOptions,
): Effect.Effect<ReadonlyArray<Destination>, TransportError, Resolver> =>
  Effect.gen(function* () {
    const uri = routeUri(request)
    if (uri === undefined) {
      return yield* new TransportError({ reason: "Unreachable", message: "no sip/sips URI to route to" })
    }
    const resolver = yield* Resolver
    return yield* resolver.resolve(uri, options)
  })

/** True for IPv4 224.0.0.0/4 and IPv6 ff00::/8 (§18.1.1 multicast). */
export const isMulticast = (address: string): boolean => {
  // a unicast address needs no parse: every send asks (`isIP` runs a regular expression)
  const c = address.charCodeAt(0)
  if (c !== 0x32 && c !== 0x66 && c !== 0x46) return false // not "2…" (224–239) nor "ff…"
  const kind = isIP(address)
  if (kind === 4) {
    const first = Number(address.slice(0, address.indexOf(".")))
    return first >= 224 && first <= 239
  }
  return kind === 6 && address.toLowerCase().startsWith("ff")
}

export type { SipMessage }
