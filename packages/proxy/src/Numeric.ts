/**
 * RFC 3263 for a URI whose host (or `maddr`) is an IP address: no DNS question is asked
 * (§4.1: no NAPTR, the transport from `transport=` or UDP, TLS for sips; §4.2: the URI's port
 * or the transport's default), so the answer is a plain call and the proxy needs no fiber for
 * it. Names still go to the `Resolver`.
 */
import { isIP } from "node:net"
import type { SipUri, Uri } from "@sipfx/message"
import type { Destination, Protocol } from "@sipfx/transport"

const param = (uri: SipUri, name: string): string | null | undefined => {
  for (const [key, value] of uri.params) if (key.toLowerCase() === name) return value
  return undefined
}

/** §4.1: the transport named by `transport=`, upgraded to TLS for sips (§26.2.2). */
const transportOf = (uri: SipUri, sips: boolean): Protocol => {
  switch (param(uri, "transport")?.toLowerCase()) {
    case "tcp":
      return sips ? "TLS" : "TCP"
    case "tls":
      return "TLS"
    case "ws":
      return sips ? "WSS" : "WS"
    case "wss":
      return "WSS"
    case "udp":
      return "UDP"
    default:
      return sips ? "TLS" : "UDP"
  }
}

const defaultPort = (protocol: Protocol): number =>
  protocol === "TLS" ? 5061 : protocol === "WS" ? 80 : protocol === "WSS" ? 443 : 5060

const unbracket = (host: string) => (host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host)

/** The one destination of a URI with a numeric host, or `undefined` when DNS is needed. */
export const destination = (uri: Uri.Uri): Destination | undefined => {
  if (uri._tag !== "SipUri") return undefined
  const maddr = param(uri, "maddr")
  // §19.1.1: maddr overrides the host
  const host = unbracket(typeof maddr === "string" && maddr.length > 0 ? maddr : uri.host)
  if (isIP(host) === 0) return undefined
  const protocol = transportOf(uri, uri.scheme === "sips")
  return { protocol, address: host, port: uri.port ?? defaultPort(protocol) }
}
