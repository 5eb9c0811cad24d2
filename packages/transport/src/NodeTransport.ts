/**
 * The `Transport` service on Node sockets: node:dgram, node:net, node:tls and `ws`,
 * each bound inside `Effect.acquireRelease` so closing the Scope closes everything.
 * Inbound bytes are parsed and handed to subscribers synchronously, in the socket's
 * own callback: no fiber or queue per message.
 */
import * as dgram from "node:dgram"
import * as dns from "node:dns"
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https"
import * as net from "node:net"
import { networkInterfaces } from "node:os"
import * as tls from "node:tls"
import type { ParseError, SipMessage } from "@sipfx/message"
import { Clock, Effect, Layer, Queue, Stream } from "effect"
import { WebSocket, WebSocketServer } from "ws"
import { badRequestFor, Framer, Parser, replaceTopVia, serialize, topVia, viaParam } from "./Codec.ts"
import * as Config from "./Config.ts"
import { type Connection, newConnectionId, Registry } from "./Connection.ts"
import { isMulticast, stampReceived } from "./Routing.ts"
import {
  type Destination,
  type Inbound,
  type ListenPoint,
  type Protocol,
  type Source,
  Transport,
  TransportError,
  type TransportStats,
} from "./Transport.ts"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface UdpListener {
  readonly point: ListenPoint
  readonly socket: dgram.Socket
  readonly family: 4 | 6
  readonly multicastInterface: string | undefined
}

const errorReason = (error: unknown): TransportError["reason"] => {
  const code = (error as { code?: string } | undefined)?.code ?? ""
  if (code === "ECONNREFUSED" || code === "ECONNRESET") return "Refused"
  if (code === "ETIMEDOUT") return "Timeout"
  if (code === "EMSGSIZE") return "TooLarge"
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL") return "Unreachable"
  if (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.includes("CERT") || code.includes("SELF_SIGNED"))
    return "Tls"
  return "Unknown"
}

const fail = (reason: TransportError["reason"], message: string, destination?: Destination, cause?: unknown) =>
  new TransportError({ reason, message, destination, cause })

const toBytes = (data: Buffer | ArrayBuffer | Array<Buffer>): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data

/** Via, Call-ID, CSeq, From and To present (by name: one pass, nothing parsed). */
const hasMandatoryHeaders = (m: SipMessage): boolean => {
  let seen = 0
  const hs = m.headers
  for (let i = 0; i < hs.length; i++) {
    switch (hs[i]!.name) {
      case "Via":
        seen |= 1
        break
      case "Call-ID":
        seen |= 2
        break
      case "CSeq":
        seen |= 4
        break
      case "From":
        seen |= 8
        break
      case "To":
        seen |= 16
        break
    }
  }
  return seen === 31
}

/** §18.1.1 sent-by: the advertised name, else the bound address, else (wildcard) the first external one. */
const sentByFor = (listen: Config.ListenConfig, bound: string): string | undefined => {
  if (listen.advertise !== undefined) return listen.advertise
  if (bound !== "0.0.0.0" && bound !== "::") return undefined
  const family = bound === "::" ? "IPv6" : "IPv4"
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (!i.internal && i.family === family) return i.address
  }
  return family === "IPv6" ? "::1" : "127.0.0.1"
}

/** of an IP literal or a name: only an IPv6 literal has a colon */
const familyOf = (address: string): 4 | 6 => (address.includes(":") ? 6 : 4)

/**
 * dgram resolves every destination before sending, through a `dns.lookup` that answers an IP
 * literal on the next tick: a hop per datagram. Our destinations are resolved already (RFC 3263
 * happens above), so an address is answered at once; a name still goes to `dns.lookup`.
 */
const numericLookup = (
  address: string,
  family: unknown,
  callback: (error: Error | null, address: string, family: number) => void,
): void => {
  // most datagrams go back to the last address: its kind is known (`isIP` runs a regular expression)
  if (address === lastLiteral) {
    callback(null, address, lastKind)
    return
  }
  const kind = net.isIP(address)
  if (kind === 0) {
    dns.lookup(address, family as number, callback)
    return
  }
  lastLiteral = address
  lastKind = kind
  callback(null, address, kind)
}
let lastLiteral = ""
let lastKind = 4

/** Builds the engine and binds every listener; the Scope owns all sockets. */
export const make = (
  input: Config.TransportConfigInput,
): Effect.Effect<Transport["Service"], TransportError | Config.TransportConfigError, import("effect").Scope.Scope> =>
  Effect.gen(function* () {
    const config = Config.make(input)
    if (config instanceof Config.TransportConfigError) return yield* config
    const clock = yield* Clock.Clock
    const { limits } = config
    const stats: Mutable<TransportStats> = {
      received: 0,
      sent: 0,
      malformed: 0,
      rejected: 0,
      dropped: 0,
      oversized: 0,
      disconnected: 0,
      pongs: 0,
      idleClosed: 0,
      handlerErrors: 0,
    }
    let handlers: ReadonlyArray<(inbound: Inbound) => void> = []
    const udp: Array<UdpListener> = []
    const points: Array<ListenPoint> = []
    const registry = new Registry()
    let closed = false

    // ---------- inbound: parse, stamp, dispatch ----------

    const dispatch = (message: SipMessage, source: Source): void => {
      stats.received++
      const inbound: Inbound = { message, source, receivedAt: clock.currentTimeMillisUnsafe() }
      const hs = handlers
      for (let i = 0; i < hs.length; i++) {
        try {
          hs[i]!(inbound)
        } catch {
          stats.handlerErrors++
        }
      }
    }

    /** `reply` is shared per socket/connection: no closure allocated per message */
    type Reply = (bytes: Uint8Array, to: Source) => void

    const rejectMalformed = (error: ParseError, source: Source, reply: Reply): void => {
      stats.malformed++
      // RFC 3261 §21.4.1 / §8.2.2: answer a broken request if we can route an answer
      const answer = badRequestFor(error)
      if (answer === undefined) {
        stats.dropped++
        return
      }
      stats.rejected++
      reply(serialize(answer), source)
    }

    const accept = (message: SipMessage, source: Source): void => {
      // §8.1.1: without these no transaction can match it, and no answer can be routed
      if (!hasMandatoryHeaders(message)) {
        stats.malformed++
        stats.dropped++
        return
      }
      dispatch(message._tag === "SipRequest" ? stampReceived(message, source) : message, source)
    }

    /** one whole message: a datagram or a WebSocket frame */
    const receive = (bytes: Uint8Array, source: Source, reply: Reply): void => {
      const result = Parser.parse(bytes)
      if (result._tag === "Err") rejectMalformed(result.error, source, reply)
      else accept(result.message, source)
    }

    // ---------- UDP ----------

    const bindUdp = (listen: Config.ListenConfig) =>
      Effect.acquireRelease(
        Effect.callback<UdpListener, TransportError>((resume) => {
          const family = familyOf(listen.host)
          const multicast = listen.multicast !== undefined && listen.multicast.length > 0
          // ipv6Only is EINVAL on an IPv4 socket
          const socket = dgram.createSocket({
            type: family === 6 ? "udp6" : "udp4",
            lookup: numericLookup,
            reuseAddr: multicast,
            ...(family === 6 ? { ipv6Only: true } : {}),
            ...(limits.udpReceiveBuffer > 0 ? { recvBufferSize: limits.udpReceiveBuffer } : {}),
          })
          socket.once("error", (error) =>
            resume(
              Effect.fail(fail(errorReason(error), `cannot bind udp ${listen.host}:${listen.port}`, undefined, error)),
            ),
          )
          socket.bind({ address: listen.host, port: listen.port }, () => {
            socket.removeAllListeners("error")
            socket.on("error", () => {}) // ICMP errors on send surface in the send callback
            const bound = socket.address()
            const point: ListenPoint = {
              protocol: "UDP",
              address: bound.address,
              port: bound.port,
              sentBy: sentByFor(listen, bound.address),
            }
            const iface = listen.interface
            try {
              // §18.1.1 multicast leaves on the configured interface, or the one we are bound to
              const outIface = iface ?? (family === 4 && bound.address !== "0.0.0.0" ? bound.address : undefined)
              if (outIface) socket.setMulticastInterface(outIface)
              if (multicast) {
                socket.setMulticastLoopback(true)
                for (const group of listen.multicast!) socket.addMembership(group, iface)
              }
            } catch (error) {
              socket.close()
              resume(Effect.fail(fail("Unknown", `cannot join multicast group: ${String(error)}`, undefined, error)))
              return
            }
            const local = { address: bound.address, port: bound.port }
            const replyUdp = (bytes: Uint8Array, to: Source) => socket.send(bytes, to.port, to.address)
            // one string per peer address instead of one per datagram: lingering transactions keep
            // their source and destination for 32 s (Timers J, L, M)
            let lastAddress = ""
            socket.on("message", (buf, rinfo) => {
              if (buf.length > limits.maxDatagramSize) {
                stats.oversized++
                return
              }
              // CRLF keep-alives on UDP carry no message (RFC 5626 uses STUN there)
              if (buf.length <= 4 && (buf[0] === 13 || buf[0] === 10)) return
              if (rinfo.address !== lastAddress) lastAddress = rinfo.address
              const source: Source = {
                protocol: "UDP",
                address: lastAddress,
                port: rinfo.port,
                connectionId: undefined,
                local,
              }
              receive(buf, source, replyUdp)
            })
            resume(Effect.succeed({ point, socket, family, multicastInterface: iface }))
          })
        }),
        (listener) =>
          Effect.callback<void>((resume) => {
            try {
              listener.socket.close(() => resume(Effect.void))
            } catch {
              resume(Effect.void)
            }
          }),
      )

    const isLoopback = (address: string) => address === "::1" || address.startsWith("127.")

    /** same family; a socket bound to loopback cannot reach other hosts */
    const udpSocketFor = (address: string): UdpListener | undefined => {
      const family = familyOf(address)
      // multicast leaves on the socket's multicast interface, loopback included
      const external = !isLoopback(address) && !isMulticast(address)
      for (const l of udp) {
        if (l.family === family && !(external && isLoopback(l.point.address))) return l
      }
      return undefined
    }

    const sendUdp = (bytes: Uint8Array, destination: Destination, ttl: number | undefined) =>
      Effect.callback<void, TransportError>((resume) => {
        const listener = udpSocketFor(destination.address)
        if (listener === undefined) {
          resume(Effect.fail(fail("NoListener", `no UDP listener for ${destination.address}`, destination)))
          return
        }
        if (bytes.length > 65_507) {
          resume(Effect.fail(fail("TooLarge", `${bytes.length} bytes exceed a UDP datagram`, destination)))
          return
        }
        if (ttl !== undefined && isMulticast(destination.address)) listener.socket.setMulticastTTL(ttl)
        listener.socket.send(bytes, destination.port, destination.address, (error) => {
          if (error) resume(Effect.fail(fail(errorReason(error), error.message, destination, error)))
          else {
            stats.sent++
            resume(Effect.void)
          }
        })
      })

    // ---------- streams: TCP and TLS ----------

    const tooManyFrom = (address: string): boolean => registry.countFrom(address) >= limits.maxConnectionsPerAddress

    /** Wires a node socket (TCP or TLS) as a SIP connection with Content-Length framing. */
    const attachStream = (socket: net.Socket, protocol: Protocol, inbound: boolean): Connection => {
      const local = { address: socket.localAddress ?? "", port: socket.localPort ?? 0 }
      const connection: Connection = {
        id: newConnectionId(protocol),
        protocol,
        address: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
        local,
        inbound,
        lastActivity: Date.now(),
        write: (bytes, done) => {
          connection.lastActivity = Date.now()
          socket.write(bytes, (error) => done(error ?? undefined))
        },
        destroy: () => socket.destroy(),
      }
      const source: Source = {
        protocol,
        address: connection.address,
        port: connection.port,
        connectionId: connection.id,
        local,
      }
      const reply: Reply = (bytes) => socket.write(bytes)
      const framer = Framer.make({ maxMessageSize: limits.maxMessageSize, maxHeaderBytes: limits.maxHeaderBytes })
      socket.setNoDelay(true)
      socket.on("data", (chunk: Buffer) => {
        connection.lastActivity = Date.now()
        const frames = framer.push(chunk)
        for (let i = 0; i < frames.length; i++) {
          const frame = frames[i]!
          switch (frame._tag) {
            case "Message":
              accept(frame.message, source)
              break
            case "Invalid":
              // well framed but not valid: the stream stays usable, the request gets its 400
              rejectMalformed(frame.error, source, reply)
              break
            case "KeepAlive":
              // RFC 5626 §3.5.1: a double-CRLF ping is answered with a single CRLF pong
              if (frame.pong) {
                stats.pongs++
                socket.write(frame.pong)
              }
              break
            case "Error":
              // garbage on a stream loses framing for good: close this connection only
              stats.malformed++
              stats.disconnected++
              registry.remove(connection)
              socket.destroy()
              return
          }
        }
      })
      socket.on("error", () => {})
      socket.on("close", () => registry.remove(connection))
      registry.add(connection)
      return connection
    }

    const tlsOptions = config.tls

    const listenStream = (listen: Config.ListenConfig) =>
      Effect.acquireRelease(
        Effect.callback<net.Server, TransportError>((resume) => {
          const protocol = listen.protocol
          const onSocket = (socket: net.Socket) => {
            if (closed) return socket.destroy()
            if (tooManyFrom(socket.remoteAddress ?? "")) {
              stats.disconnected++
              return socket.destroy()
            }
            attachStream(socket, protocol, true)
          }
          const server =
            protocol === "TLS"
              ? tls.createServer({ key: tlsOptions?.key as string, cert: tlsOptions?.cert as string }, onSocket)
              : net.createServer(onSocket)
          server.maxConnections = limits.maxConnectionsPerAddress * 1024
          server.on("tlsClientError", () => {
            stats.disconnected++
          })
          server.once("error", (error) =>
            resume(
              Effect.fail(
                fail(errorReason(error), `cannot listen ${protocol} ${listen.host}:${listen.port}`, undefined, error),
              ),
            ),
          )
          server.listen({ host: listen.host, port: listen.port, ipv6Only: familyOf(listen.host) === 6 }, () => {
            server.removeAllListeners("error")
            server.on("error", () => {})
            resume(Effect.succeed(server))
          })
        }),
        (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void))),
      )

    const dial = (destination: Destination) =>
      Effect.callback<Connection, TransportError>((resume) => {
        const { protocol, address, port } = destination
        let settled = false
        const options = { host: address, port, timeout: limits.connectTimeout }
        const socket =
          protocol === "TLS"
            ? tls.connect({
                ...options,
                servername: net.isIP(address) ? undefined : address,
                ca: tlsOptions?.ca as string | undefined,
                rejectUnauthorized: tlsOptions?.rejectUnauthorized ?? true,
              })
            : net.connect(options)
        const ready = protocol === "TLS" ? "secureConnect" : "connect"
        socket.once(ready, () => {
          if (settled) return
          settled = true
          socket.setTimeout(0)
          resume(Effect.succeed(attachStream(socket, protocol, false)))
        })
        socket.once("timeout", () => {
          if (settled) return
          settled = true
          socket.destroy()
          resume(Effect.fail(fail("Timeout", `connecting to ${address}:${port} timed out`, destination)))
        })
        socket.once("error", (error) => {
          if (settled) return
          settled = true
          const reason = protocol === "TLS" && errorReason(error) === "Unknown" ? "Tls" : errorReason(error)
          resume(Effect.fail(fail(reason, `${protocol} ${address}:${port}: ${error.message}`, destination, error)))
        })
        return Effect.sync(() => {
          if (!settled) socket.destroy()
        })
      })

    // ---------- WebSocket (RFC 7118) ----------

    const attachWebSocket = (
      ws: WebSocket,
      protocol: "WS" | "WSS",
      remote: { address: string; port: number },
      local: { address: string; port: number },
      inbound: boolean,
    ): Connection => {
      const connection: Connection = {
        id: newConnectionId(protocol),
        protocol,
        address: remote.address,
        port: remote.port,
        local,
        inbound,
        lastActivity: Date.now(),
        // RFC 7118 §5.1: one SIP message per frame; text frames for UTF-8 SIP
        write: (bytes, done) => {
          connection.lastActivity = Date.now()
          ws.send(bytes, { binary: false }, (error) => done(error ?? undefined))
        },
        destroy: () => ws.terminate(),
      }
      const source: Source = {
        protocol,
        address: remote.address,
        port: remote.port,
        connectionId: connection.id,
        local,
      }
      const reply: Reply = (bytes) => ws.send(bytes, { binary: false })
      ws.on("message", (data: Buffer | ArrayBuffer | Array<Buffer>) => {
        connection.lastActivity = Date.now()
        receive(toBytes(data), source, reply)
      })
      ws.on("error", () => {})
      ws.on("close", () => registry.remove(connection))
      registry.add(connection)
      return connection
    }

    const listenWebSocket = (listen: Config.ListenConfig) =>
      Effect.acquireRelease(
        Effect.callback<{ wss: WebSocketServer; https: HttpsServer | undefined; port: number }, TransportError>(
          (resume) => {
            const protocol = listen.protocol as "WS" | "WSS"
            const https =
              protocol === "WSS"
                ? createHttpsServer({ key: tlsOptions?.key as string, cert: tlsOptions?.cert as string })
                : undefined
            const wss = new WebSocketServer({
              ...(https ? { server: https } : { host: listen.host, port: listen.port }),
              maxPayload: limits.maxMessageSize,
              // RFC 7118 §4.1: only the "sip" subprotocol is spoken here
              handleProtocols: (protocols) => (protocols.has("sip") ? "sip" : false),
              verifyClient: (info, cb) => {
                const offered = String(info.req.headers["sec-websocket-protocol"] ?? "")
                  .split(",")
                  .map((p) => p.trim())
                if (!offered.includes("sip")) return cb(false, 400, "subprotocol sip required")
                if (closed || tooManyFrom(info.req.socket.remoteAddress ?? "")) return cb(false, 503)
                cb(true)
              },
            })
            wss.on("connection", (ws, req) => {
              const s = req.socket
              attachWebSocket(
                ws,
                protocol,
                { address: s.remoteAddress ?? "", port: s.remotePort ?? 0 },
                { address: s.localAddress ?? "", port: s.localPort ?? 0 },
                true,
              )
            })
            const onError = (error: Error) =>
              resume(
                Effect.fail(
                  fail(errorReason(error), `cannot listen ${protocol} ${listen.host}:${listen.port}`, undefined, error),
                ),
              )
            const server = https ?? wss
            server.once("error", onError)
            const ready = () => {
              server.removeListener("error", onError)
              server.on("error", () => {})
              const address = (https ? https.address() : wss.address()) as net.AddressInfo
              resume(Effect.succeed({ wss, https, port: address.port }))
            }
            if (https)
              https.listen({ host: listen.host, port: listen.port, ipv6Only: familyOf(listen.host) === 6 }, ready)
            else wss.once("listening", ready)
          },
        ),
        ({ wss, https }) =>
          Effect.callback<void>((resume) => {
            for (const client of wss.clients) client.terminate()
            wss.close(() => {
              if (https) https.close(() => resume(Effect.void))
              else resume(Effect.void)
            })
          }),
      )

    const dialWebSocket = (destination: Destination) =>
      Effect.callback<Connection, TransportError>((resume) => {
        const { address, port } = destination
        const protocol = destination.protocol as "WS" | "WSS"
        const host = net.isIPv6(address) ? `[${address}]` : address
        const ws = new WebSocket(`${protocol === "WSS" ? "wss" : "ws"}://${host}:${port}`, "sip", {
          handshakeTimeout: limits.connectTimeout,
          ca: tlsOptions?.ca as string | undefined,
          rejectUnauthorized: tlsOptions?.rejectUnauthorized ?? true,
        })
        let settled = false
        ws.once("open", () => {
          settled = true
          const raw = (ws as unknown as { _socket: net.Socket })._socket
          resume(
            Effect.succeed(
              attachWebSocket(
                ws,
                protocol,
                { address, port },
                { address: raw?.localAddress ?? "", port: raw?.localPort ?? 0 },
                false,
              ),
            ),
          )
        })
        ws.once("error", (error) => {
          if (settled) return
          settled = true
          resume(
            Effect.fail(
              fail(errorReason(error), `${protocol} ${address}:${port}: ${error.message}`, destination, error),
            ),
          )
        })
        return Effect.sync(() => {
          if (!settled) ws.terminate()
        })
      })

    // ---------- sending ----------

    const writeTo = (connection: Connection, bytes: Uint8Array, destination: Destination) =>
      Effect.callback<void, TransportError>((resume) => {
        connection.write(bytes, (error) => {
          if (error) resume(Effect.fail(fail("Closed", error.message, destination, error)))
          else {
            stats.sent++
            resume(Effect.void)
          }
        })
      })

    const hasListener = (protocol: Protocol) => points.some((p) => p.protocol === protocol)

    const sendStream = (bytes: Uint8Array, destination: Destination): Effect.Effect<void, TransportError> => {
      // §18.2.2: the request's connection first; §18.1.1: an open one to the same peer next
      const byId = destination.connectionId === undefined ? undefined : registry.get(destination.connectionId)
      const existing = byId ?? registry.toRemote(destination.protocol, destination.address, destination.port)
      if (existing) return writeTo(existing, bytes, destination)
      const open = destination.protocol === "WS" || destination.protocol === "WSS" ? dialWebSocket : dial
      return open(destination).pipe(Effect.flatMap((connection) => writeTo(connection, bytes, destination)))
    }

    const send = (message: SipMessage, destination: Destination): Effect.Effect<void, TransportError> =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(fail("Closed", "transport closed", destination))
        let bytes: Uint8Array
        try {
          bytes = serialize(message)
        } catch (cause) {
          return Effect.fail(fail("Encode", `cannot serialise: ${String(cause)}`, destination, cause))
        }
        if (destination.protocol !== "UDP") return sendStream(bytes, destination)
        const via = topVia(message)
        const ttlParam = via === undefined ? undefined : viaParam(via, "ttl")
        const ttl = typeof ttlParam === "string" ? Number(ttlParam) : undefined
        // RFC 3261 §18.1.1: a large request leaves over a congestion-controlled transport
        if (
          message._tag === "SipRequest" &&
          bytes.length > config.udpMaxRequestSize &&
          via !== undefined &&
          !isMulticast(destination.address) &&
          hasListener("TCP")
        ) {
          const tcpPoint = points.find((p) => p.protocol === "TCP")!
          const overTcp = replaceTopVia(message, { ...via, transport: "TCP", port: tcpPoint.port })
          const tcpDestination: Destination = { ...destination, protocol: "TCP" }
          return sendStream(serialize(overTcp), tcpDestination).pipe(
            // §18.1.1: refused over TCP, retry the original over UDP
            Effect.catchTag("TransportError", (error) =>
              error.reason === "Refused" ? sendUdp(bytes, destination, ttl) : Effect.fail(error),
            ),
          )
        }
        return sendUdp(bytes, destination, ttl)
      })

    /** runs a send off the hot path; its first failure goes to `onError` */
    const runReporting = (effect: Effect.Effect<void, TransportError>, onError: (error: TransportError) => void) => {
      Effect.runCallback(effect, {
        onExit: (exit) => {
          if (exit._tag !== "Failure") return
          for (const r of exit.cause.reasons) {
            if (r._tag === "Fail") {
              onError(r.error)
              return
            }
          }
        },
      })
    }

    /** one datagram in one socket call; a socket error goes to `onError` */
    const sendDatagram = (
      listener: UdpListener,
      bytes: Uint8Array,
      destination: Destination,
      onError: (error: TransportError) => void,
    ) => {
      listener.socket.send(bytes, destination.port, destination.address, (error) => {
        if (error) onError(fail(errorReason(error), error.message, destination, error))
        else stats.sent++
      })
    }

    /** the rare cases (streams, multicast, §18.1.1 switch to TCP) run `send` itself */
    const sendLater = (message: SipMessage, destination: Destination, onError: (error: TransportError) => void) =>
      runReporting(send(message, destination), onError)

    /** unicast UDP in one synchronous socket call: serialise, pick the socket, send */
    const sendNow = (
      message: SipMessage,
      destination: Destination,
      onError: (error: TransportError) => void,
    ): Uint8Array | undefined => {
      if (closed) {
        onError(fail("Closed", "transport closed", destination))
        return undefined
      }
      if (destination.protocol !== "UDP" || isMulticast(destination.address)) {
        sendLater(message, destination, onError)
        return undefined
      }
      let bytes: Uint8Array
      try {
        bytes = serialize(message)
      } catch (cause) {
        onError(fail("Encode", `cannot serialise: ${String(cause)}`, destination, cause))
        return undefined
      }
      const listener = udpSocketFor(destination.address)
      if (
        listener === undefined ||
        bytes.length > 65_507 ||
        (message._tag === "SipRequest" && bytes.length > config.udpMaxRequestSize && hasListener("TCP"))
      ) {
        // no socket, too large, or a large request that leaves over TCP: `send` says which
        sendLater(message, destination, onError)
        return undefined
      }
      sendDatagram(listener, bytes, destination, onError)
      return bytes
    }

    /** pre-serialised bytes: unicast UDP in one socket call, streams and multicast through an Effect */
    const sendBytes = (bytes: Uint8Array, destination: Destination, onError: (error: TransportError) => void): void => {
      if (closed) {
        onError(fail("Closed", "transport closed", destination))
        return
      }
      const listener =
        destination.protocol === "UDP" && !isMulticast(destination.address) && bytes.length <= 65_507
          ? udpSocketFor(destination.address)
          : undefined
      if (listener === undefined) {
        const effect: Effect.Effect<void, TransportError> =
          destination.protocol === "UDP"
            ? bytes.length > 65_507
              ? Effect.fail(fail("TooLarge", `${bytes.length} bytes exceed a UDP datagram`, destination))
              : sendUdp(bytes, destination, undefined)
            : sendStream(bytes, destination)
        runReporting(effect, onError)
        return
      }
      sendDatagram(listener, bytes, destination, onError)
    }

    // ---------- bind everything ----------

    for (const listen of config.listen) {
      switch (listen.protocol) {
        case "UDP": {
          const listener = yield* bindUdp(listen)
          udp.push(listener)
          points.push(listener.point)
          break
        }
        case "TCP":
        case "TLS": {
          const server = yield* listenStream(listen)
          const address = server.address() as net.AddressInfo
          points.push({
            protocol: listen.protocol,
            address: address.address,
            port: address.port,
            sentBy: sentByFor(listen, address.address),
          })
          break
        }
        case "WS":
        case "WSS": {
          const { port } = yield* listenWebSocket(listen)
          points.push({ protocol: listen.protocol, address: listen.host, port, sentBy: sentByFor(listen, listen.host) })
          break
        }
      }
    }

    // idle sweep: one timer for all connections, not one per socket
    const sweepEvery = Math.max(50, Math.min(1_000, Math.floor(limits.idleTimeout / 4)))
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        setInterval(() => {
          stats.idleClosed += registry.sweep(Date.now() - limits.idleTimeout)
        }, sweepEvery).unref(),
      ),
      (timer) => Effect.sync(() => clearInterval(timer)),
    )
    // runs before the listeners' finalizers: servers close only once their connections are gone
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        handlers = []
        registry.destroyAll()
      }),
    )

    const subscribe = (handler: (inbound: Inbound) => void) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          handlers = [...handlers, handler]
        }),
        () =>
          Effect.sync(() => {
            handlers = handlers.filter((h) => h !== handler)
          }),
      )

    const incoming: Stream.Stream<Inbound> = Stream.callback<Inbound>((queue) =>
      subscribe((inbound) => {
        Queue.offerUnsafe(queue, inbound)
      }),
    )

    return Transport.of({
      listenPoints: points,
      subscribe,
      incoming,
      send,
      sendNow,
      sendBytes,
      stats: () => ({ ...stats }),
    })
  })

/** `Transport` from a typed config: `NodeTransport.layer({ listen: ["udp://0.0.0.0:5060", "tcp://0.0.0.0:5060"] })`. */
export const layer = (
  input: Config.TransportConfigInput,
): Layer.Layer<Transport, TransportError | Config.TransportConfigError> => Layer.effect(Transport, make(input))
