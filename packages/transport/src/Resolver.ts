import { Resolver as DnsResolver } from "node:dns/promises"
import { isIP } from "node:net"
import type { SipUri } from "@sipfx/message"
import { Context, Effect, Layer } from "effect"
import { type Destination, type Protocol, TransportError } from "./Transport.ts"

/** NAPTR record (RFC 3403) as used by RFC 3263 §4.1. */
export interface NaptrRecord {
  readonly type: "NAPTR"
  readonly order: number
  readonly preference: number
  readonly flags: string
  readonly service: string
  readonly regexp: string
  readonly replacement: string
}

/** SRV record (RFC 2782). */
export interface SrvRecord {
  readonly type: "SRV"
  readonly priority: number
  readonly weight: number
  readonly port: number
  readonly target: string
}

/** What a name maps to: IP literals (A/AAAA) and NAPTR/SRV records. */
export type DnsRecord = string | NaptrRecord | SrvRecord

/** The DNS questions RFC 3263 asks; an absent name answers with an empty list. */
export interface Dns {
  readonly naptr: (name: string) => Promise<ReadonlyArray<NaptrRecord>>
  readonly srv: (name: string) => Promise<ReadonlyArray<SrvRecord>>
  readonly addresses: (name: string) => Promise<ReadonlyArray<string>>
}

export interface ResolveOptions {
  /** protocols this element can send on; others are skipped (RFC 3263 §4.1) */
  readonly supported?: ReadonlyArray<Protocol> | undefined
}

/**
 * Locating SIP servers (RFC 3263 §4): the ordered list of destinations to try, the
 * first one first, the rest for failover (§4.3).
 */
export class Resolver extends Context.Service<
  Resolver,
  {
    readonly resolve: (
      uri: SipUri,
      options?: ResolveOptions,
    ) => Effect.Effect<ReadonlyArray<Destination>, TransportError>
  }
>()("@sipfx/transport/Resolver") {}

// RFC 3263 §4.1 NAPTR service fields, RFC 7118 §5 for WebSocket
const naptrServices: Record<string, Protocol> = {
  "SIP+D2U": "UDP",
  "SIP+D2T": "TCP",
  "SIPS+D2T": "TLS",
  "SIP+D2W": "WS",
  "SIPS+D2W": "WSS",
}

const srvPrefix: Record<Protocol, string> = {
  UDP: "_sip._udp.",
  TCP: "_sip._tcp.",
  TLS: "_sips._tcp.",
  WS: "_sip._ws.",
  WSS: "_sips._ws.",
}

const defaultPort = (protocol: Protocol): number =>
  protocol === "TLS" ? 5061 : protocol === "WS" ? 80 : protocol === "WSS" ? 443 : 5060

const secure = (protocol: Protocol) => protocol === "TLS" || protocol === "WSS"

const paramOf = (uri: SipUri, name: string): string | null | undefined => {
  for (const [key, value] of uri.params) if (key.toLowerCase() === name) return value
  return undefined
}

/** RFC 3263 §4.1: the transport named by `transport=`, upgraded to TLS for sips (§26.2.2). */
const explicitTransport = (uri: SipUri): Protocol | undefined => {
  const value = paramOf(uri, "transport")?.toLowerCase()
  if (value === undefined) return undefined
  const sips = uri.scheme === "sips"
  switch (value) {
    case "udp":
      return "UDP"
    case "tcp":
      return sips ? "TLS" : "TCP"
    case "tls":
      return "TLS"
    case "ws":
      return sips ? "WSS" : "WS"
    case "wss":
      return "WSS"
    default:
      return undefined
  }
}

/** RFC 2782 ordering: ascending priority, weighted random inside a priority. */
export const orderSrv = (records: ReadonlyArray<SrvRecord>, random: () => number = Math.random): Array<SrvRecord> => {
  const byPriority = new Map<number, Array<SrvRecord>>()
  for (const r of records) {
    const group = byPriority.get(r.priority)
    if (group) group.push(r)
    else byPriority.set(r.priority, [r])
  }
  const out: Array<SrvRecord> = []
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // zero weights first so they keep a small chance (RFC 2782 "Usage rules")
    const pool = byPriority.get(priority)!.sort((a, b) => a.weight - b.weight)
    while (pool.length > 0) {
      const total = pool.reduce((sum, r) => sum + r.weight, 0)
      const pick = random() * (total + 1)
      let running = 0
      let index = pool.length - 1
      for (let i = 0; i < pool.length; i++) {
        running += pool[i]!.weight
        if (running >= pick) {
          index = i
          break
        }
      }
      out.push(pool.splice(index, 1)[0]!)
    }
  }
  return out
}

const unbracket = (host: string) => (host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host)

// §8.1.2 / §19.1.1: maddr overrides the host
const targetHost = (uri: SipUri): string => {
  const maddr = paramOf(uri, "maddr")
  return unbracket(typeof maddr === "string" && maddr.length > 0 ? maddr : uri.host)
}

/**
 * RFC 3263 §4.1/§4.2 for a numeric host (or maddr): the one destination, found without asking DNS
 * (so callers on a hot path need no fiber); `undefined` when the host is a name.
 */
export const numericDestination = (uri: SipUri): Destination | undefined => {
  const host = targetHost(uri)
  if (isIP(host) === 0) return undefined
  const protocol = explicitTransport(uri) ?? (uri.scheme === "sips" ? "TLS" : "UDP")
  return { protocol, address: host, port: uri.port ?? defaultPort(protocol) }
}

/** RFC 3263 §4 over any `Dns`: transport selection, then SRV, then A/AAAA, in failover order. */
export const locate = async (dns: Dns, uri: SipUri, options?: ResolveOptions): Promise<Array<Destination>> => {
  const supported = options?.supported ?? ["UDP", "TCP", "TLS", "WS", "WSS"]
  const sips = uri.scheme === "sips"
  const direct = numericDestination(uri)
  if (direct !== undefined) return [direct]
  const host = targetHost(uri)
  let transport = explicitTransport(uri)
  const allowed = (p: Protocol) => supported.includes(p) && (!sips || secure(p))

  // §4.1: explicit port: no NAPTR, default transport
  if (transport === undefined && uri.port !== undefined) transport = sips ? "TLS" : "UDP"
  const hostTargets = async (protocol: Protocol, target: string, port: number): Promise<Array<Destination>> =>
    (await dns.addresses(target)).map((address) => ({ protocol, address, port }))

  // §4.2: explicit port, A/AAAA only
  if (uri.port !== undefined) return hostTargets(transport!, host, uri.port)

  const srvTargets = async (protocol: Protocol, name: string): Promise<Array<Destination> | undefined> => {
    const records = await dns.srv(name)
    if (records.length === 0) return undefined
    const out: Array<Destination> = []
    for (const r of orderSrv(records)) out.push(...(await hostTargets(protocol, r.target, r.port)))
    return out
  }

  if (transport !== undefined) {
    // §4.2: transport known, port unknown: SRV for it, else A/AAAA on the default port
    return (
      (await srvTargets(transport, srvPrefix[transport] + host)) ?? hostTargets(transport, host, defaultPort(transport))
    )
  }

  // §4.1: NAPTR, keep the services we support, in order/preference
  const naptr = (await dns.naptr(host))
    .filter((r) => r.flags.toLowerCase() === "s" && naptrServices[r.service.toUpperCase()] !== undefined)
    .filter((r) => allowed(naptrServices[r.service.toUpperCase()]!))
    .sort((a, b) => a.order - b.order || a.preference - b.preference)
  if (naptr.length > 0) {
    const out: Array<Destination> = []
    for (const r of naptr) {
      const found = await srvTargets(naptrServices[r.service.toUpperCase()]!, r.replacement)
      if (found) out.push(...found)
    }
    if (out.length > 0) return out
  }
  // §4.1: no NAPTR: SRV for each supported transport in our preference order
  const order: ReadonlyArray<Protocol> = sips ? ["TLS", "WSS"] : ["UDP", "TCP", "TLS", "WS", "WSS"]
  const out: Array<Destination> = []
  for (const protocol of order) {
    if (!allowed(protocol)) continue
    const found = await srvTargets(protocol, srvPrefix[protocol] + host)
    if (found) out.push(...found)
  }
  if (out.length > 0) return out
  // §4.2: no SRV: A/AAAA with the default transport and port
  const fallback: Protocol = sips ? "TLS" : "UDP"
  return hostTargets(fallback, host, defaultPort(fallback))
}

const fromLocate =
  (dns: Dns) =>
  (uri: SipUri, options?: ResolveOptions): Effect.Effect<ReadonlyArray<Destination>, TransportError> =>
    Effect.tryPromise({
      try: () => locate(dns, uri, options),
      catch: (cause) =>
        new TransportError({ reason: "Unreachable", message: `cannot resolve ${uri.host}: ${String(cause)}`, cause }),
    }).pipe(
      Effect.flatMap((list) =>
        list.length === 0
          ? Effect.fail(new TransportError({ reason: "Unreachable", message: `no address for ${uri.host}` }))
          : Effect.succeed(list),
      ),
    )

/** A `Dns` over a fixed table: `{ "example.com": ["127.0.0.1"] }`, with NAPTR/SRV records too. */
export const memoryDns = (table: Readonly<Record<string, ReadonlyArray<DnsRecord>>>): Dns => {
  const lookup = (name: string) => table[name.toLowerCase().replace(/\.$/, "")] ?? []
  return {
    naptr: async (name) => lookup(name).filter((r): r is NaptrRecord => typeof r !== "string" && r.type === "NAPTR"),
    srv: async (name) => lookup(name).filter((r): r is SrvRecord => typeof r !== "string" && r.type === "SRV"),
    addresses: async (name) => (isIP(name) !== 0 ? [name] : lookup(name).filter((r) => typeof r === "string")),
  }
}

const absent = new Set(["ENODATA", "ENOTFOUND", "ENONAME", "NXDOMAIN", "ESERVFAIL", "ENOTIMP", "EREFUSED"])
const orEmpty = async <A>(p: Promise<ReadonlyArray<A>>): Promise<ReadonlyArray<A>> => {
  try {
    return await p
  } catch (e) {
    if (absent.has((e as { code?: string }).code ?? "")) return []
    throw e
  }
}

/** A `Dns` over node:dns, optionally against given servers (`["127.0.0.1:5353"]`). */
export const nodeDns = (options?: { readonly servers?: ReadonlyArray<string>; readonly timeout?: number }): Dns => {
  const resolver = new DnsResolver({ timeout: options?.timeout ?? 2_000, tries: 2 })
  if (options?.servers) resolver.setServers([...options.servers])
  return {
    naptr: (name) =>
      orEmpty(resolver.resolveNaptr(name)).then((rs) =>
        rs.map((r) => ({
          type: "NAPTR" as const,
          order: r.order,
          preference: r.preference,
          flags: r.flags,
          service: r.service,
          regexp: r.regexp,
          replacement: r.replacement,
        })),
      ),
    srv: (name) =>
      orEmpty(resolver.resolveSrv(name)).then((rs) =>
        rs.map((r) => ({ type: "SRV" as const, priority: r.priority, weight: r.weight, port: r.port, target: r.name })),
      ),
    addresses: async (name) => {
      if (isIP(name) !== 0) return [name]
      const [v4, v6] = await Promise.all([orEmpty(resolver.resolve4(name)), orEmpty(resolver.resolve6(name))])
      return [...v4, ...v6]
    },
  }
}

export const make = (dns: Dns): Resolver["Service"] => Resolver.of({ resolve: fromLocate(dns) })

/** In-memory Resolver for tests: map test domains to loopback, nothing leaves the process. */
export const memory = (table: Readonly<Record<string, ReadonlyArray<DnsRecord>>>): Layer.Layer<Resolver> =>
  Layer.succeed(Resolver, make(memoryDns(table)))

/** Resolver over real DNS (node:dns), optionally against given servers. */
export const layer = (options?: { readonly servers?: ReadonlyArray<string>; readonly timeout?: number }) =>
  Layer.succeed(Resolver, make(nodeDns(options)))
