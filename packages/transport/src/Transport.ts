import type { SipMessage } from "@sipfx/message"
import { Context, Data, type Effect, type Scope, type Stream } from "effect"

/** Transport protocols as written in Via (RFC 3261 §18, RFC 7118 for WS/WSS). */
export type Protocol = "UDP" | "TCP" | "TLS" | "WS" | "WSS"

/** Reliable transports need no SIP-level retransmission (RFC 3261 §17.1.1.2, §17.1.2.2). */
export const isReliable = (protocol: Protocol): boolean => protocol !== "UDP"

/** Where to send: a resolved address (IP literal, no brackets) and port on a protocol. */
export interface Destination {
  readonly protocol: Protocol
  readonly address: string
  readonly port: number
  /** reuse this connection if it is still open (responses on the request's connection, §18.2.2) */
  readonly connectionId?: string | undefined
}

/** Where a message came from, and on which of our listeners. */
export interface Source {
  readonly protocol: Protocol
  readonly address: string
  readonly port: number
  /** stream transports: the connection it arrived on */
  readonly connectionId: string | undefined
  readonly local: { readonly address: string; readonly port: number }
}

export interface Inbound {
  readonly message: SipMessage
  readonly source: Source
  /** milliseconds since the epoch on Effect's Clock when received */
  readonly receivedAt: number
}

/** A bound listening point, e.g. UDP 127.0.0.1:5060. */
export interface ListenPoint {
  readonly protocol: Protocol
  readonly address: string
  readonly port: number
  /** host to write in Via sent-by when it is not `address` (wildcard binds, advertised names) */
  readonly sentBy?: string | undefined
}

export type TransportErrorReason =
  | "Refused"
  | "Timeout"
  | "TooLarge"
  | "Tls"
  | "Closed"
  | "Unreachable"
  | "NoListener"
  | "Encode"
  | "Unknown"

/** Every transport failure, typed so the transaction layer can raise its "transport error" event. */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: TransportErrorReason
  readonly destination?: Destination | undefined
  readonly message: string
  readonly cause?: unknown
}> {}

/** Counters a transport keeps cheaply (plain increments on the hot path). */
export interface TransportStats {
  readonly received: number
  readonly sent: number
  /** inbound bytes that did not parse */
  readonly malformed: number
  /** malformed requests answered statelessly with 400/505 */
  readonly rejected: number
  /** malformed messages dropped without an answer (broken responses, nothing to answer to) */
  readonly dropped: number
  /** datagrams above the size limit */
  readonly oversized: number
  /** connections closed for bad framing, size limits or per-address limits */
  readonly disconnected: number
  /** CRLF keep-alive pings answered (RFC 5626 §3.5.1) */
  readonly pongs: number
  /** connections closed after the idle timeout */
  readonly idleClosed: number
  /** exceptions thrown by subscribers (caught, counted) */
  readonly handlerErrors: number
}

/**
 * The transport layer (RFC 3261 §18) as seen by everything above it. Both the real
 * socket implementation and the simulated network Layer provide this one interface.
 */
export class Transport extends Context.Service<
  Transport,
  {
    /** the listening points actually bound (ports resolved when 0 was asked) */
    readonly listenPoints: ReadonlyArray<ListenPoint>
    /**
     * Registers a synchronous handler for every inbound message (the hot path: no fiber
     * or queue per message). The registration ends with the Scope.
     */
    readonly subscribe: (handler: (inbound: Inbound) => void) => Effect.Effect<void, never, Scope.Scope>
    /** every inbound message as a Stream (a convenience over `subscribe`) */
    readonly incoming: Stream.Stream<Inbound>
    /**
     * Sends a message. Requests get their top Via's sent-by/transport filled by the caller
     * (see `prepareRequest`); responses are routed by the caller per §18.2.2 (`responseDestination`).
     */
    readonly send: (message: SipMessage, destination: Destination) => Effect.Effect<void, TransportError>
    /**
     * `send` as a plain call, for hot paths that must not start a fiber per message (a
     * transaction layer's responses). A failure goes to `onError`, at once or later (a socket
     * error). It returns the octets it sent when it serialised the message itself, else
     * undefined: a transaction keeps them to retransmit. Optional: without it, callers run `send`.
     */
    readonly sendNow?:
      | ((
          message: SipMessage,
          destination: Destination,
          onError: (error: TransportError) => void,
        ) => Uint8Array | undefined)
      | undefined
    /**
     * Sends bytes that are already one serialised message, as they are (no §18.1.1 switch to TCP):
     * a transaction that only retransmits its final response or ACK keeps these bytes instead of
     * the parsed message (RFC 3261 §17.1.1.2, §17.2.1, §17.2.2). Synchronous like `sendNow`.
     * Optional: without it, callers parse the bytes back and run `send`.
     */
    readonly sendBytes?:
      | ((bytes: Uint8Array, destination: Destination, onError: (error: TransportError) => void) => void)
      | undefined
    /** a snapshot of the counters, when the implementation keeps them */
    readonly stats?: (() => TransportStats) | undefined
  }
>()("@sipfx/transport/Transport") {}
