/**
 * Who "this proxy" is: the addresses it listens on (and aliases) and the domains it is
 * responsible for. §16.3 step 4 (our sent-by in a Via), §16.4 (our Record-Route URI in the
 * Request-URI, our URI in the first Route) and §16.5 (our domain → location service) ask it.
 */
import type { SipUri, Uri, Via } from "@sipfx/message"

type AnyUri = Uri.Uri

import type { ListenPoint, Protocol } from "@sipfx/transport"

export interface Self {
  readonly listenPoints: ReadonlyArray<ListenPoint>
  /** `host:port` keys (lower-case, IPv6 without brackets) naming us */
  readonly addresses: ReadonlySet<string>
  /** domains we are responsible for (§16.5), lower-case */
  readonly domains: ReadonlySet<string>
  /** the listen point to send on for a protocol */
  readonly pointFor: (protocol: Protocol) => ListenPoint | undefined
}

const unbracket = (host: string) => (host.startsWith("[") ? host.slice(1, -1) : host).toLowerCase()

const defaultPort = (transport: string | undefined, sips: boolean): number =>
  sips || transport === "tls" ? 5061 : transport === "ws" ? 80 : transport === "wss" ? 443 : 5060

export const make = (
  listenPoints: ReadonlyArray<ListenPoint>,
  options: {
    readonly domains?: ReadonlyArray<string> | undefined
    readonly aliases?: ReadonlyArray<string> | undefined
  } = {},
): Self => {
  const addresses = new Set<string>()
  for (const p of listenPoints) {
    addresses.add(`${unbracket(p.address)}:${p.port}`)
    if (p.sentBy !== undefined) addresses.add(`${unbracket(p.sentBy)}:${p.port}`)
    // a wildcard bind answers on loopback too
    if (p.address === "0.0.0.0") addresses.add(`127.0.0.1:${p.port}`)
    if (p.address === "::") addresses.add(`::1:${p.port}`)
  }
  for (const alias of options.aliases ?? []) addresses.add(alias.toLowerCase())
  return {
    listenPoints,
    addresses,
    domains: new Set((options.domains ?? []).map((d) => d.toLowerCase())),
    pointFor: (protocol) => listenPoints.find((p) => p.protocol === protocol),
  }
}

const uriParam = (uri: SipUri, name: string): string | null | undefined => {
  for (const [k, v] of uri.params) if (k.toLowerCase() === name) return v
  return undefined
}

/** The URI names this element: host and port (explicit or default) are one of ours. */
export const isUs = (self: Self, uri: AnyUri): boolean => {
  if (uri._tag !== "SipUri") return false
  const transport = uriParam(uri, "transport")?.toLowerCase()
  const port = uri.port ?? defaultPort(transport, uri.scheme === "sips")
  return self.addresses.has(`${unbracket(uri.host)}:${port}`)
}

/** §16.5: the Request-URI's domain is one we are responsible for (a served domain, or our own address). */
export const isOurDomain = (self: Self, uri: AnyUri): boolean =>
  uri._tag === "SipUri" && (self.domains.has(unbracket(uri.host)) || isUs(self, uri))

/** §16.3 step 4: a Via that this element placed (its sent-by is one of ours). */
export const isOurVia = (self: Self, via: Via): boolean => {
  const t = via.transport.toLowerCase()
  const port = via.port ?? defaultPort(t, t === "tls")
  return self.addresses.has(`${unbracket(via.host)}:${port}`)
}
