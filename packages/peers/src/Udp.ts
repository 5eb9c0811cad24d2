/** Raw UDP exchanges on loopback, for checks that must not go through our own stack. */
import * as dgram from "node:dgram"
import * as net from "node:net"

const family = (host: string) => (net.isIPv6(host) ? "udp6" : "udp4")

/**
 * Sends one request from a fresh port (`build` gets that port for its Via) and answers the
 * first final response as text; provisional responses are skipped. Fails after `timeoutMs`.
 */
export const request = async (
  port: number,
  build: (localPort: number) => string,
  options: { readonly host?: string; readonly timeoutMs?: number } = {},
): Promise<string> => {
  const host = options.host ?? "127.0.0.1"
  const socket = dgram.createSocket(family(host))
  await new Promise<void>((r) => socket.bind(0, host, () => r()))
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer")), options.timeoutMs ?? 5_000)
      socket.on("message", (m) => {
        const text = m.toString("latin1")
        if (/^SIP\/2\.0 1\d\d /.test(text)) return
        clearTimeout(timer)
        resolve(text)
      })
      socket.send(Buffer.from(build(socket.address().port), "latin1"), port, host)
    })
  } finally {
    socket.close()
  }
}

/** Sends one datagram from a fresh socket and waits for the first datagram back, whatever it is. */
export const exchange = (port: number, text: string | Uint8Array, host = "127.0.0.1", ms = 3000) =>
  new Promise<{ reply: string; localPort: number }>((resolve, reject) => {
    const socket = dgram.createSocket(family(host))
    const timer = setTimeout(() => {
      socket.close()
      reject(new Error("no UDP reply"))
    }, ms)
    socket.on("message", (m) => {
      clearTimeout(timer)
      const localPort = socket.address().port
      socket.close()
      resolve({ reply: m.toString("latin1"), localPort })
    })
    socket.bind(0, host, () => socket.send(text, port, host))
  })

/** Sends a datagram and resolves after `ms` with whatever came back (nothing expected). */
export const silence = (port: number, bytes: Uint8Array | string, ms = 300, host = "127.0.0.1") =>
  new Promise<Array<string>>((resolve) => {
    const socket = dgram.createSocket(family(host))
    const got: Array<string> = []
    socket.on("message", (m) => got.push(m.toString("latin1")))
    socket.bind(0, host, () => socket.send(bytes, port, host))
    setTimeout(() => socket.close(() => resolve(got)), ms)
  })

/** A UDP socket on a random loopback port that records what reaches it. */
export const listener = async (host = "127.0.0.1") => {
  const socket = dgram.createSocket(family(host))
  const received: Array<string> = []
  socket.on("message", (m) => received.push(m.toString("latin1")))
  await new Promise<void>((r) => socket.bind(0, host, () => r()))
  return { port: socket.address().port, received, close: () => socket.close() }
}
