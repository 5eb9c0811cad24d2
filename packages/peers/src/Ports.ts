/** Free loopback ports, for peers that need a fixed port in their command line or config. */
import * as dgram from "node:dgram"
import * as net from "node:net"

/**
 * A port free for both UDP and TCP on `host` right now (bind 0 on UDP, then check TCP).
 * Another process may still take it before the caller binds: retried up to 20 times here,
 * callers that can should bind port 0 instead.
 */
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

/** A tuple of `N` numbers. */
export type Tuple<N extends number, A extends Array<number> = []> = A["length"] extends N ? A : Tuple<N, [...A, number]>

/** `n` distinct free ports. */
export const freePorts = async <N extends number>(n: N, host = "127.0.0.1"): Promise<Tuple<N>> => {
  const ports: Array<number> = []
  while (ports.length < n) {
    const p = await freePort(host)
    if (!ports.includes(p)) ports.push(p)
  }
  return ports as Tuple<N>
}
