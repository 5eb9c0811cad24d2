import { Data } from "effect"
import type { Protocol } from "./Transport.ts"

/** One listening point to bind, e.g. parsed from `udp://0.0.0.0:5060`. */
export interface ListenConfig {
  readonly protocol: Protocol
  /** bind address: an IP literal, IPv6 without brackets */
  readonly host: string
  /** 0 asks the system for a free port */
  readonly port: number
  /** multicast groups to join on this UDP socket (RFC 3261 §18.1.1, §10.2.6) */
  readonly multicast?: ReadonlyArray<string> | undefined
  /** local interface address for multicast membership and sending (e.g. 127.0.0.1 for lo) */
  readonly interface?: string | undefined
  /** host written in Via sent-by when the bind address is a wildcard */
  readonly advertise?: string | undefined
}

/** Certificate material for `tls://` and `wss://` listeners and outbound TLS (RFC 3261 §26.2). */
export interface TlsConfig {
  readonly key?: string | Uint8Array | undefined
  readonly cert?: string | Uint8Array | undefined
  /** trusted roots for outbound connections; the system store when absent */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  readonly rejectUnauthorized?: boolean | undefined
}

export interface Limits {
  /** largest message accepted on a stream (headers + body) */
  readonly maxMessageSize: number
  /** largest datagram accepted; bigger ones are dropped */
  readonly maxDatagramSize: number
  /** bytes allowed before the blank line that ends the headers */
  readonly maxHeaderBytes: number
  /** concurrent inbound connections from one remote IP */
  readonly maxConnectionsPerAddress: number
  /** a connection silent for this long is closed (ms) */
  readonly idleTimeout: number
  /** outbound connection establishment (ms) */
  readonly connectTimeout: number
  /** SO_RCVBUF for UDP sockets in bytes (0: the system default); bursts beyond it are dropped by the kernel */
  readonly udpReceiveBuffer: number
}

export const defaultLimits: Limits = {
  maxMessageSize: 65_535,
  maxDatagramSize: 65_507,
  maxHeaderBytes: 16_384,
  maxConnectionsPerAddress: 64,
  idleTimeout: 120_000,
  connectTimeout: 5_000,
  udpReceiveBuffer: 0,
}

export interface TransportConfig {
  readonly listen: ReadonlyArray<ListenConfig>
  readonly tls?: TlsConfig | undefined
  readonly limits: Limits
  /** RFC 3261 §18.1.1: UDP requests above this size go over TCP (1300 when the path MTU is unknown) */
  readonly udpMaxRequestSize: number
}

export interface TransportConfigInput {
  readonly listen: ReadonlyArray<string | ListenConfig>
  readonly tls?: TlsConfig | undefined
  readonly limits?: Partial<Limits> | undefined
  /** known path MTU: the §18.1.1 threshold becomes MTU - 200 */
  readonly mtu?: number | undefined
}

export class TransportConfigError extends Data.TaggedError("TransportConfigError")<{
  readonly input: string
  readonly message: string
}> {}

const schemes: Record<string, Protocol> = { udp: "UDP", tcp: "TCP", tls: "TLS", ws: "WS", wss: "WSS" }
const defaultPorts: Record<Protocol, number> = { UDP: 5060, TCP: 5060, TLS: 5061, WS: 80, WSS: 443 }

/** Parses `udp://0.0.0.0:5060`, `tls://[::1]:5061`, `udp://0.0.0.0:5060?multicast=224.0.1.75&interface=127.0.0.1`. */
export const parseListen = (input: string): ListenConfig | TransportConfigError => {
  const fail = (message: string) => new TransportConfigError({ input, message })
  const match = /^([a-z]+):\/\/(\[[0-9a-fA-F:.]+\]|[^:/?[\]]+)(?::(\d{1,5}))?\/?(?:\?(.*))?$/.exec(input)
  if (match === null) return fail("expected scheme://host[:port][?params]")
  const protocol = schemes[match[1]!]
  if (protocol === undefined) return fail(`unknown transport scheme ${match[1]}`)
  const rawHost = match[2]!
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost
  const port = match[3] === undefined ? defaultPorts[protocol] : Number(match[3])
  if (port > 65_535) return fail(`port ${port} out of range`)
  const query = new URLSearchParams(match[4] ?? "")
  const multicast = query.getAll("multicast")
  for (const key of query.keys()) {
    if (key !== "multicast" && key !== "advertise" && key !== "interface") return fail(`unknown parameter ${key}`)
  }
  if (multicast.length > 0 && protocol !== "UDP") return fail("multicast needs udp://")
  return {
    protocol,
    host,
    port,
    multicast: multicast.length > 0 ? multicast : undefined,
    interface: query.get("interface") ?? undefined,
    advertise: query.get("advertise") ?? undefined,
  }
}

/** Validates and completes a configuration (defaults for every limit). */
export const make = (input: TransportConfigInput): TransportConfig | TransportConfigError => {
  const listen: Array<ListenConfig> = []
  for (const entry of input.listen) {
    const parsed = typeof entry === "string" ? parseListen(entry) : entry
    if (parsed instanceof TransportConfigError) return parsed
    listen.push(parsed)
  }
  if (listen.length === 0) return new TransportConfigError({ input: "", message: "no listening point" })
  const secure = listen.some((l) => l.protocol === "TLS" || l.protocol === "WSS")
  if (secure && (input.tls?.key === undefined || input.tls.cert === undefined)) {
    return new TransportConfigError({ input: "tls", message: "tls:// and wss:// listeners need tls.key and tls.cert" })
  }
  return {
    listen,
    tls: input.tls,
    limits: { ...defaultLimits, ...input.limits },
    udpMaxRequestSize: input.mtu === undefined ? 1300 : input.mtu - 200,
  }
}
