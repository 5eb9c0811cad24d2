import * as dgram from "node:dgram"
import * as net from "node:net"
import type { SipUri } from "@sipfx/message"

/** A sip/sips URI value without going through a parser. */
export const sipUri = (
  host: string,
  options: {
    scheme?: "sip" | "sips"
    port?: number
    user?: string
    params?: ReadonlyArray<readonly [string, string | null]>
  } = {},
): SipUri => ({
  _tag: "SipUri",
  scheme: options.scheme ?? "sip",
  user: options.user,
  password: undefined,
  host,
  port: options.port,
  params: options.params ?? [],
  headers: [],
})

/** A port free for both UDP and TCP right now (bind 0, read, close). */
export const freePort = async (host = "127.0.0.1"): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4")
      s.once("error", reject)
      s.bind(0, host, () => {
        const p = s.address().port
        s.close(() => resolve(p))
      })
    })
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = net.createServer()
      server.once("error", () => resolve(false))
      server.listen(port, host, () => server.close(() => resolve(true)))
    })
    if (tcpFree) return port
  }
  throw new Error("no free port")
}
