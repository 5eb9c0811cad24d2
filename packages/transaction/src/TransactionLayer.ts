/**
 * The transaction layer (RFC 3261 §17) as an Effect service. It owns one table of live
 * transactions, runs each one's machine through its compiled table synchronously inside the
 * transport's subscribe callback, and keeps one fiber that sends queued messages and sleeps on
 * Effect's Clock until the next timer deadline. No fiber, queue or timer exists per transaction.
 */
import { Message, Parser, Serializer, type SipRequest, type SipResponse, type Via } from "@sipfx/message"
import {
  type Destination,
  type Inbound,
  isReliable,
  type Protocol,
  type Source,
  Transport,
  TransportError,
} from "@sipfx/transport"
import { Clock, Context, Effect, Exit, Layer, Queue, Result, type Scope, Stream } from "effect"
import type { AnyStateMachine } from "xstate"
import * as Compiled from "./Compiled.ts"
import { InvalidRequest, TransactionTimeout } from "./Errors.ts"
import * as Matching from "./internal/Matching.ts"
import * as Messages from "./Messages.ts"
import * as InviteClientTransaction from "./machines/InviteClientTransaction.ts"
import * as InviteServerTransaction from "./machines/InviteServerTransaction.ts"
import * as NonInviteClientTransaction from "./machines/NonInviteClientTransaction.ts"
import * as NonInviteServerTransaction from "./machines/NonInviteServerTransaction.ts"
import { type Timer, TimerQueue } from "./TimerQueue.ts"
import * as Timers from "./Timers.ts"
import { Wakeup } from "./Wakeup.ts"
import { type Chunk, WireArena } from "./WireArena.ts"

// ---- the interface to the Transaction User ----

/** What a client transaction reports to its TU (all optional but `onResponse`). */
export interface ClientCallbacks {
  /** every response the machine passes up: provisionals, the final, and (INVITE, RFC 6026) later 2xx */
  readonly onResponse: (response: SipResponse, tx: ClientTransaction) => void
  /** Timer B (INVITE) or F (non-INVITE) fired without a final response */
  readonly onTimeout?: ((error: TransactionTimeout, tx: ClientTransaction) => void) | undefined
  readonly onTransportError?: ((error: TransportError, tx: ClientTransaction) => void) | undefined
  /** the transaction is gone: no entry, no timer left */
  readonly onTerminated?: ((tx: ClientTransaction) => void) | undefined
  /**
   * INVITE: where 2xx responses received in Accepted go (RFC 6026 §8.4), the first one's
   * retransmissions and other branches' 2xx: to `onResponse` (default), or to the stray
   * handler as a `Response`, so that for its 32 s in Accepted the transaction holds nothing
   * of the TU's (a proxy forwards them upstream by their Via either way, §16.7 step 5).
   */
  readonly acceptedResponses?: "callback" | "stray" | undefined
}

export interface ClientTransaction {
  /** the matching key (§17.1.3): branch and method */
  readonly id: string
  readonly request: SipRequest
  readonly destination: Destination
  /** the RFC state name: Calling, Trying, Proceeding, Completed, Accepted, Terminated */
  readonly state: string
}

/** What a server transaction reports after creation; register with `listen`. */
export interface ServerListener {
  /** Timer H fired: no ACK came for a non-2xx final response (§17.2.1) */
  readonly onTimeout?: ((error: TransactionTimeout, tx: ServerTransaction) => void) | undefined
  readonly onTransportError?: ((error: TransportError, tx: ServerTransaction) => void) | undefined
  readonly onTerminated?: ((tx: ServerTransaction) => void) | undefined
}

export interface ServerTransaction {
  /** the matching key (§17.2.3) */
  readonly id: string
  readonly request: SipRequest
  readonly source: Source
  /** where responses go, per §18.2.2 / RFC 3581 */
  readonly destination: Destination
  readonly state: string
  /**
   * for a CANCEL: whether it matched an INVITE server transaction (§9.2: the TU answers the
   * CANCEL 200, else 481), including one past its final response that the TU let go of
   */
  readonly cancelMatched: boolean
  /**
   * for a CANCEL: the INVITE server transaction it targets, while the TU can still act on it —
   * before its final response, or after it when the TU `listen`s to it; else undefined
   */
  readonly cancels: ServerTransaction | undefined
  /** the last response sent */
  readonly lastResponse: SipResponse | undefined
  /**
   * the TU's own state for this transaction (a proxy's response context, §16.7), found again from
   * the transaction (e.g. the one a CANCEL `cancels`). It goes with the parsed messages when the
   * transaction lingers. A field rather than a Map in the TU: a small Map that churns leaves each
   * call reachable to the minor GC from its obsolete hash tables, which promoted every call
   * (12.6 → 3.2 KB per proxied call, see the proxy README).
   */
  tu: unknown
  /** Sends a response through the machine; false when the machine does not take it (e.g. after a final). */
  respond(response: SipResponse): boolean
  listen(listener: ServerListener): void
}

/** Messages that match no transaction and belong to the TU core (RFC 6026). */
export type Stray =
  | {
      /** ACK for a 2xx: matched an INVITE server transaction in Accepted, or none */
      readonly _tag: "Ack"
      readonly request: SipRequest
      readonly source: Source
      readonly transaction: ServerTransaction | undefined
    }
  | {
      /** a response with no client transaction, e.g. a 2xx retransmission after Timer M */
      readonly _tag: "Response"
      readonly response: SipResponse
      readonly source: Source
    }

export interface Stats {
  readonly clientTransactions: number
  readonly serverTransactions: number
  /** armed timers (cancelled and fired ones excluded) */
  readonly timers: number
  /** timer slots held, cancelled ones its list's head has not passed yet included */
  readonly timerEntries: number
  /** messages queued for the transport */
  readonly outbox: number
  /** transactions past their final response kept as key, destination and bytes only (RFC 3261 §17) */
  readonly lingering: number
}

export interface Options {
  readonly timers?: Partial<Timers.TimerConfig> | undefined
  /** INVITE server transactions send 100 Trying when the TU is silent for 200 ms (default true) */
  readonly autoTrying?: boolean | undefined
}

export class TransactionLayer extends Context.Service<
  TransactionLayer,
  {
    readonly timers: Timers.TimerConfig
    /**
     * Starts a client transaction. The request must carry its top Via with a branch
     * (`z9hG4bK…`, §8.1.1.7) and a CSeq; the TU picks the destination (§8.1.2, RFC 3263).
     */
    readonly sendRequest: (
      request: SipRequest,
      destination: Destination,
      callbacks: ClientCallbacks,
    ) => Result.Result<ClientTransaction, InvalidRequest>
    /** Registers the handler of new server transactions (one at a time; ends with the Scope). */
    readonly serve: (handler: (tx: ServerTransaction) => void) => Effect.Effect<void, never, Scope.Scope>
    /** Registers the handler of stray messages (ends with the Scope). */
    readonly onStray: (handler: (stray: Stray) => void) => Effect.Effect<void, never, Scope.Scope>
    /** The INVITE server transaction a CANCEL targets (§9.2), while the TU can act on it (see `cancels`). */
    readonly findInvite: (cancel: SipRequest) => ServerTransaction | undefined
    /** Sends outside any transaction (ACK for 2xx, 2xx retransmissions by a UAS core). */
    readonly sendStateless: (
      message: SipRequest | SipResponse,
      destination: Destination,
    ) => Effect.Effect<void, TransportError>
    /** Effect form of `sendRequest`: the final response, or the reason there is none. */
    readonly request: (
      request: SipRequest,
      destination: Destination,
    ) => Effect.Effect<SipResponse, InvalidRequest | TransactionTimeout | TransportError>
    /** Every new server transaction as a Stream (a wrapper over `serve`). */
    readonly serverTransactions: Stream.Stream<ServerTransaction>
    readonly stats: () => Stats
  }
>()("@sipfx/transaction/TransactionLayer") {}

// ---- implementation ----

const Kind = { InviteClient: 0, NonInviteClient: 1, InviteServer: 2, NonInviteServer: 3 } as const
type Kind = (typeof Kind)[keyof typeof Kind]

const machineOf: Record<Kind, AnyStateMachine> = {
  [Kind.InviteClient]: InviteClientTransaction.machine,
  [Kind.NonInviteClient]: NonInviteClientTransaction.machine,
  [Kind.InviteServer]: InviteServerTransaction.machine,
  [Kind.NonInviteServer]: NonInviteServerTransaction.machine,
}

// event types by response class
const clientEvent = (kind: Kind, status: number): string =>
  status < 200
    ? "response1xx"
    : kind === Kind.NonInviteClient
      ? "response200to699"
      : status < 300
        ? "response2xx"
        : "response300to699"

const serverEvent = (kind: Kind, status: number): string =>
  kind === Kind.NonInviteServer
    ? // RFC 4320 §4.1–4.2: the machine refuses 101–199 and 408
      status === 100
      ? "tu100"
      : status < 200
        ? "tu101to199"
        : status === 408
          ? "tu408"
          : "tu200to699"
    : status < 200
      ? "tu1xx"
      : status < 300
        ? "tu2xx"
        : "tu300to699"

const timeoutTimer = { InviteClient: "B", NonInviteClient: "F", InviteServer: "H" } as const

// §18.1.1 / §19.1.2 default ports, used when the Via's sent-by has none
const defaultPort = (protocol: Protocol): number =>
  protocol === "TLS" ? 5061 : protocol === "WSS" ? 443 : protocol === "WS" ? 80 : 5060

/**
 * RFC 3261 §18.2.2 with RFC 3581 §4: where a server transaction sends its responses, fixed when
 * the request arrives. Reliable: back on the request's connection, else (connection gone) to the
 * source address and the sent-by port. Unreliable: `maddr` with the sent-by port; the source
 * address and port when the request asked for `rport`; else the source address and sent-by port.
 *
 * The source address stands for `received` (§18.2.1): it is what the transport would stamp, and
 * reading it from the packet keeps this independent of whether the transport stamped the Via.
 * (`Routing.responseDestination` of @sipfx/transport reads a stamped response's Via instead,
 * so it cannot serve before a response exists nor over transports that do not stamp.)
 */
export const responseDestination = (source: Source, via: Via | undefined): Destination => {
  const protocol: Protocol = source.protocol
  const sentByPort = via?.port ?? defaultPort(protocol)
  if (isReliable(protocol)) {
    return { protocol, address: source.address, port: sentByPort, connectionId: source.connectionId }
  }
  if (via !== undefined) {
    const maddr = Message.param(via.params, "maddr")
    if (typeof maddr === "string" && maddr !== "") return { protocol, address: maddr, port: sentByPort }
    if (Message.param(via.params, "rport") !== undefined) {
      return { protocol, address: source.address, port: source.port }
    }
  }
  return { protocol, address: source.address, port: sentByPort }
}

/** §17.2.3: sent-by compares host (case-insensitive) and port */
const sameSentBy = (tx: Core, via: Via): boolean => {
  if (tx instanceof Remnant) {
    return tx.port === via.port && (tx.host === via.host || tx.host.toLowerCase() === via.host.toLowerCase())
  }
  return Matching.sameSentBy((tx as ServerTx).via, via)
}

/**
 * a string of its own: a slice of a message's text keeps the whole text alive. Slicing the
 * concatenation flattens it into a fresh copy (four times cheaper than a round trip through a Buffer).
 */
const ownCopy = (s: string): string => `${s} `.slice(0, -1)

/**
 * The destination with an address of its own: a client's comes from a URI host cut from the
 * request's text (V8 slices strings of 13 characters or more, e.g. most IPv6 addresses and names),
 * which a lingering transaction would keep whole for 32 s.
 */
const ownDestination = (d: Destination): Destination =>
  d.address.length < 13 ? d : { ...d, address: ownCopy(d.address) }

const encodeError = (destination: Destination, cause: unknown): TransportError =>
  new TransportError({ reason: "Encode", destination, message: `cannot serialise: ${String(cause)}`, cause })

/**
 * What the engine runs: a machine position, its timers and the serialised message it may resend.
 * A full transaction (`Tx`) also holds its parsed messages; once only retransmissions are left
 * to absorb, it is replaced in the table by a `Remnant` (see `Engine.slim`).
 */
abstract class Core {
  readonly layer: Engine
  readonly kind: Kind
  readonly id: string
  /** the request method: CANCEL has its own maps, and responses match on it (§17.1.3) */
  readonly method: string
  readonly destination: Destination
  node: Compiled.Node
  /**
   * its running timers (slots in the layer's `TimerQueue`): the first in a field, any others in
   * an array. Most transactions run one or two, and a lingering one its last (J, K, L, M, D, I)
   * for 32 s: no array per transaction to promote.
   */
  timer: Timer = -1
  moreTimers: Array<Timer> | undefined = undefined
  /** events raised while this transaction runs actions, processed in order afterwards */
  pending: Array<readonly [string, SipRequest | SipResponse | TransportError | undefined]> | undefined = undefined
  /** a zero-length timer started by the current step (D, I, J, K on reliable transports) */
  immediate: string | undefined = undefined
  busy = false
  alive = true
  /** set on a full transaction once its Remnant took its place */
  remnant: Remnant | undefined = undefined

  constructor(layer: Engine, kind: Kind, id: string, method: string, destination: Destination, node: Compiled.Node) {
    this.layer = layer
    this.kind = kind
    this.id = id
    this.method = method
    this.destination = destination
    this.node = node
  }

  addTimer(t: Timer): void {
    if (this.timer < 0) this.timer = t
    else (this.moreTimers ??= []).push(t)
  }

  /** forgets a timer that fired or was cancelled */
  dropTimer(t: Timer): void {
    const more = this.moreTimers
    if (this.timer === t) this.timer = more !== undefined && more.length > 0 ? more.pop()! : -1
    else if (more !== undefined) {
      const i = more.indexOf(t)
      if (i >= 0) more.splice(i, 1)
    }
  }

  /** the running timer named `name` (A, B, …), else -1 */
  timerNamed(queue: TimerQueue<Core>, name: string): Timer {
    if (this.timer >= 0 && queue.name(this.timer) === name) return this.timer
    const more = this.moreTimers
    if (more !== undefined) for (const t of more) if (queue.name(t) === name) return t
    return -1
  }
}

abstract class Tx extends Core {
  readonly request: SipRequest
  lastResponse: SipResponse | undefined = undefined
  /** the octets the transport made of `sentOf` (its last response or ACK), kept by the Remnant to resend */
  sent: Uint8Array | undefined = undefined
  sentOf: SipRequest | SipResponse | undefined = undefined

  constructor(layer: Engine, kind: Kind, id: string, request: SipRequest, destination: Destination) {
    super(
      layer,
      kind,
      id,
      request.method,
      destination,
      layer.tables[2 * kind + (isReliable(destination.protocol) ? 1 : 0)]!.initial,
    )
    this.request = request
  }

  get state(): string {
    return (this.remnant ?? this).node.value
  }
}

class ClientTx extends Tx implements ClientTransaction {
  ack: SipRequest | undefined = undefined
  readonly callbacks: ClientCallbacks
  constructor(
    layer: Engine,
    kind: Kind,
    id: string,
    request: SipRequest,
    destination: Destination,
    callbacks: ClientCallbacks,
  ) {
    super(layer, kind, id, request, destination)
    this.callbacks = callbacks
  }
}

class ServerTx extends Tx implements ServerTransaction {
  listener: ServerListener | undefined = undefined
  tu: unknown = undefined
  cancelMatched = false
  cancels: ServerTransaction | undefined = undefined
  readonly source: Source
  /** the top Via of the request: its sent-by takes part in matching (§17.2.3) */
  readonly via: Via
  constructor(
    layer: Engine,
    kind: Kind,
    id: string,
    request: SipRequest,
    source: Source,
    destination: Destination,
    via: Via,
  ) {
    super(layer, kind, id, request, destination)
    this.source = source
    this.via = via
  }
  respond(response: SipResponse): boolean {
    const core: Core = this.remnant ?? this
    if (!core.alive || response.status < 100 || response.status > 699) return false
    const event = serverEvent(this.kind, response.status)
    const edge = Compiled.next(core.node, event)
    if (edge.steps.length === 0 && edge.target === core.node) return false
    this.lastResponse = response
    this.layer.dispatch(core, event, response)
    return true
  }
  listen(listener: ServerListener): void {
    this.listener = listener
    // a listener registered after the final response still hears of the end
    const remnant = this.remnant
    if (remnant !== undefined) remnant.handle = this
  }
}

/**
 * A transaction that only absorbs retransmissions: non-INVITE server Completed (Timer J), INVITE
 * server Completed/Confirmed (G, H, I) and Accepted (L, RFC 6026), client Completed (K, D). It
 * keeps the matching key, the destination and the bytes to resend; the parsed request and
 * response go, and so does the TU's transaction object unless the TU still listens to it.
 */
class Remnant extends Core {
  /** sent-by of the request's top Via (§17.2.3), servers only */
  readonly host: string
  readonly port: number | undefined
  /**
   * the TU's object, held while it has callbacks to hear (onTerminated, onTimeout, …). Not held
   * otherwise, not even weakly: a WeakRef's target survives every minor GC, so each call's
   * messages went to the old generation (a CANCEL still matches: `cancelMatched`).
   */
  handle: Tx | undefined
  /** INVITE servers: where ACKs in Accepted came from, for the TU (RFC 6026 §8.7) */
  readonly source: Source | undefined
  /** the last response (servers) or the ACK (INVITE clients) to resend: a range of a `WireArena` chunk */
  wire: Chunk | undefined = undefined
  wireAt = 0
  wireLength = 0

  constructor(
    tx: Tx,
    destination: Destination,
    host: string,
    port: number | undefined,
    handle: Tx | undefined,
    source: Source | undefined,
  ) {
    super(tx.layer, tx.kind, tx.id, tx.method, destination, tx.node)
    this.source = source
    this.host = host
    this.port = port
    this.handle = handle
    const queue = tx.layer.queue
    this.timer = tx.timer
    if (tx.timer >= 0) queue.setOwner(tx.timer, this)
    if (tx.moreTimers !== undefined && tx.moreTimers.length > 0) {
      this.moreTimers = tx.moreTimers.slice() // exact length: the grown array's spare capacity stays behind
      for (const t of this.moreTimers) queue.setOwner(t, this)
    }
  }

  server(): ServerTx | undefined {
    return this.handle as ServerTx | undefined
  }
}

/** the TU's view of a table entry */
const handleOf = (core: Core): Tx | undefined => (core instanceof Remnant ? core.handle : (core as Tx))

/** The synchronous core: transaction table, dispatch and timers. */
class Engine {
  // keyed by branch (§17.1.3, §17.2.3); CANCEL shares its INVITE's branch, so it has its own maps
  readonly clients = new Map<string, Core>()
  readonly clientCancels = new Map<string, Core>()
  readonly servers = new Map<string, Core>()
  readonly serverCancels = new Map<string, Core>()
  readonly tables: ReadonlyArray<Compiled.Table>
  readonly queue = new TimerQueue<Core>()
  readonly arena = new WireArena()
  /** queued sends as flat triples (message, destination, transaction): no tuple per message */
  outbox: Array<SipRequest | SipResponse | Destination | Core | undefined> = []
  /** the drained outbox, reused as the next one */
  spare: Array<SipRequest | SipResponse | Destination | Core | undefined> = []
  serveHandler: ((tx: ServerTransaction) => void) | undefined = undefined
  strayHandler: ((stray: Stray) => void) | undefined = undefined
  /** the pump fiber's wait: a new earlier deadline or a queued send resumes it */
  readonly wakeup = new Wakeup()
  /** live Remnants */
  lingering = 0

  readonly config: Timers.TimerConfig
  readonly autoTrying: boolean
  readonly clock: Clock.Clock
  /** the transport's synchronous send, when it has one: then nothing goes through the outbox */
  readonly sendNow: Transport["Service"]["sendNow"]
  /** the transport's send of pre-serialised bytes, when it has one */
  readonly sendBytes: Transport["Service"]["sendBytes"]
  constructor(
    config: Timers.TimerConfig,
    autoTrying: boolean,
    clock: Clock.Clock,
    sendNow: Transport["Service"]["sendNow"] = undefined,
    sendBytes: Transport["Service"]["sendBytes"] = undefined,
  ) {
    this.config = config
    this.autoTrying = autoTrying
    this.clock = clock
    this.sendNow = sendNow
    this.sendBytes = sendBytes
    // one table per machine and reliability, shared by every transaction of this layer
    this.tables = [Kind.InviteClient, Kind.NonInviteClient, Kind.InviteServer, Kind.NonInviteServer].flatMap((kind) =>
      [false, true].map((reliable) => Compiled.get(machineOf[kind], { timers: config, reliable, autoTrying })),
    )
  }

  // -- inbound (the transport's subscribe callback) --

  receive = (inbound: Inbound): void => {
    const m = inbound.message
    if (m._tag === "SipResponse") this.receiveResponse(m, inbound.source)
    else this.receiveRequest(m, inbound.source)
  }

  private receiveResponse(response: SipResponse, source: Source): void {
    const branch = Message.branch(response)
    const method = Message.cseq(response)?.method
    let tx: Core | undefined
    // §17.1.3: the branch of the top Via and the CSeq method
    if (branch !== undefined && method !== undefined) {
      tx = method === "CANCEL" ? this.clientCancels.get(branch) : this.clients.get(branch)
      if (tx !== undefined && tx.method !== method) tx = undefined
    }
    // RFC 6026 Accepted without the TU's object (`acceptedResponses: "stray"`): the machine
    // would only pass the 2xx up, so it goes where the TU asked
    if (tx === undefined || (tx instanceof Remnant && tx.handle === undefined && tx.node.value === "Accepted")) {
      this.strayHandler?.({ _tag: "Response", response, source })
      return
    }
    this.dispatch(tx, clientEvent(tx.kind, response.status), response)
  }

  /**
   * §17.2.3: a magic-cookie branch keys the map directly; the sent-by and method are checked on
   * a hit, and requests that share a branch but differ in those get a composite key. Requests
   * without the cookie use the RFC 2543 key.
   */
  private findServer(request: SipRequest, via: Via, method: string): Core | undefined {
    const map = method === "CANCEL" ? this.serverCancels : this.servers
    const branch = Matching.branchOf(via)
    this.freeBranch = undefined
    if (branch === undefined || !branch.startsWith(Matching.MAGIC_COOKIE)) {
      return map.get(Matching.rfc2543Key(request, via, method))
    }
    const tx = map.get(branch)
    if (tx === undefined) {
      this.freeBranch = branch
      return undefined
    }
    if (tx.method === method && sameSentBy(tx, via)) return tx
    return map.get(`${branch}\u0000${Matching.sentByKey(via)}\u0000${method}`)
  }

  /** the branch the last `findServer` found no entry for: the new transaction's key */
  private freeBranch: string | undefined = undefined

  /** the key of a new server transaction, right after `findServer` found none (one lookup fewer) */
  private serverKey(request: SipRequest, via: Via, method: string): string {
    const free = this.freeBranch
    if (free !== undefined) {
      this.freeBranch = undefined // a slice of the request's text: not held past this request
      return free
    }
    const branch = Matching.branchOf(via)
    if (branch === undefined || !branch.startsWith(Matching.MAGIC_COOKIE)) {
      return Matching.rfc2543Key(request, via, method)
    }
    return `${branch}\u0000${Matching.sentByKey(via)}\u0000${method}`
  }

  private receiveRequest(request: SipRequest, source: Source): void {
    const method = request.method
    const via = Message.topVia(request)
    if (via === undefined) return // nothing to answer to (the transport rejects such requests)
    if (method === "ACK") {
      const tx = this.findServer(request, via, "INVITE")
      // §17.2.3: the ACK for a non-2xx matches the INVITE transaction; an ACK for a 2xx does not
      // (in Accepted the machine passes a matching ACK up, RFC 6026 §8.7; elsewhere it absorbs it)
      if (tx !== undefined) this.dispatch(tx, "ack", request)
      else this.strayHandler?.({ _tag: "Ack", request, source, transaction: undefined })
      return
    }
    const existing = this.findServer(request, via, method)
    if (existing !== undefined) {
      this.dispatch(existing, "request", request)
      return
    }
    const handler = this.serveHandler
    if (handler === undefined) return
    const kind = method === "INVITE" ? Kind.InviteServer : Kind.NonInviteServer
    // the key outlives the request (Timer J/L: 32 s): a copy, not a slice that keeps its text alive
    const key = ownCopy(this.serverKey(request, via, method))
    const tx = new ServerTx(this, kind, key, request, source, responseDestination(source, via), via)
    if (method === "CANCEL") {
      const invite = this.findServer(request, via, "INVITE")
      tx.cancelMatched = invite !== undefined
      tx.cancels = invite === undefined ? undefined : (handleOf(invite) as ServerTx | undefined)
      this.serverCancels.set(key, tx)
    } else this.servers.set(key, tx)
    this.run(tx, tx.node.table.entry, undefined)
    handler(tx)
  }

  // -- outbound --

  sendRequest(
    request: SipRequest,
    destination: Destination,
    callbacks: ClientCallbacks,
  ): Result.Result<ClientTransaction, InvalidRequest> {
    const branch = Message.branch(request)
    if (branch === undefined || branch === "") {
      return Result.fail(new InvalidRequest({ reason: "top Via with a branch parameter required (§8.1.1.7)" }))
    }
    const method = request.method
    if (method === "ACK") {
      return Result.fail(new InvalidRequest({ reason: "ACK is not sent in a client transaction (§17.1.1.3)" }))
    }
    const cseq = Message.cseq(request)
    if (cseq === undefined || cseq.method !== method) {
      return Result.fail(new InvalidRequest({ reason: "CSeq missing or its method differs (§8.1.1.5)" }))
    }
    const map = method === "CANCEL" ? this.clientCancels : this.clients
    if (map.has(branch)) {
      return Result.fail(new InvalidRequest({ reason: `a client transaction ${branch} already exists` }))
    }
    const kind = method === "INVITE" ? Kind.InviteClient : Kind.NonInviteClient
    const tx = new ClientTx(this, kind, ownCopy(branch), request, destination, callbacks)
    map.set(tx.id, tx)
    this.run(tx, tx.node.table.entry, undefined)
    return Result.succeed(tx)
  }

  findInvite(cancel: SipRequest): ServerTransaction | undefined {
    const via = Message.topVia(cancel)
    const core = via === undefined ? undefined : this.findServer(cancel, via, "INVITE")
    return core === undefined ? undefined : (handleOf(core) as ServerTx | undefined)
  }

  // -- the machine runner --

  dispatch(core: Core, event: string, message: SipRequest | SipResponse | TransportError | undefined): void {
    const tx = core.remnant ?? core
    if (!tx.alive) return
    if (tx.busy) {
      // a TU callback fed this transaction again: keep run-to-completion order
      ;(tx.pending ??= []).push([event, message])
      return
    }
    const edge = Compiled.next(tx.node, event)
    tx.node = edge.target
    this.run(tx, edge.steps, message)
  }

  private run(tx: Core, steps: ReadonlyArray<Compiled.Step>, message: unknown): void {
    tx.busy = true
    for (let i = 0; i < steps.length; i++) this.exec(tx, steps[i]!, message)
    tx.busy = false
    if (tx.node.done) {
      this.terminate(tx)
      return
    }
    const immediate = tx.immediate
    if (immediate !== undefined) {
      tx.immediate = undefined
      this.dispatch(tx, immediate, undefined)
      return
    }
    const pending = tx.pending
    if (pending !== undefined && pending.length > 0) {
      const [event, msg] = pending.shift()!
      this.dispatch(tx, event, msg)
      return
    }
    if (tx.node.lingering && tx.remnant === undefined && !(tx instanceof Remnant)) this.slim(tx as Tx)
  }

  /**
   * Replaces a transaction that only absorbs retransmissions by its Remnant: same key, timers
   * and bytes, none of the parsed messages (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
   */
  private slim(tx: Tx): void {
    // RFC 6026 Accepted: the transaction resends nothing of its own (a server sends the TU's
    // later 2xx, a client's 2xx are ACKed by the TU), so there are no octets to keep
    const accepted = tx.node.value === "Accepted"
    let bytes: Uint8Array | undefined
    if (!accepted) {
      // retransmissions resend these octets: the transport's own when it said what it sent
      const last = tx instanceof ClientTx ? tx.ack : tx.lastResponse
      if (last !== undefined) {
        bytes = tx.sentOf === last ? tx.sent : undefined
        if (bytes === undefined) {
          try {
            bytes = Serializer.serialize(last)
          } catch {
            return // keep the full transaction: it can still resend the object
          }
        }
      } else if (!(tx instanceof ClientTx) || tx.kind === Kind.InviteClient) return
    }
    let remnant: Remnant
    if (tx instanceof ClientTx) {
      // the TU's object stays only while a callback can still come: later 2xx in Accepted,
      // a failed ACK resend in Completed (INVITE; a non-INVITE client sends nothing more), the end
      const c = tx.callbacks
      const invite = tx.kind === Kind.InviteClient
      const keep =
        c.onTerminated !== undefined ||
        (invite && (accepted ? c.acceptedResponses !== "stray" : c.onTransportError !== undefined))
      remnant = new Remnant(tx, this.shared(tx.destination), "", undefined, keep ? tx : undefined, undefined)
    } else {
      const s = tx as ServerTx
      const keep = s.listener !== undefined
      const invite = s.kind === Kind.InviteServer
      const host = s.via.host === this.lastHost ? this.lastHost : (this.lastHost = ownCopy(s.via.host))
      const source = invite ? s.source : undefined
      remnant = new Remnant(s, this.shared(s.destination), host, s.via.port, keep ? s : undefined, source)
    }
    if (bytes !== undefined) this.keepWire(remnant, bytes)
    tx.remnant = remnant
    tx.timer = -1
    tx.moreTimers = undefined
    tx.sent = undefined
    // a live transaction is its table's entry for its key (one lookup in a table of ~1M)
    this.mapOf(tx).set(tx.id, remnant)
    this.lingering++
  }

  /**
   * The last Remnant's sent-by host and destination, shared by the next when equal: under load
   * most requests come from a few peers, and each copy would live for 32 s.
   */
  private lastHost = ""
  private lastDestination: Destination | undefined = undefined

  private shared(d: Destination): Destination {
    const last = this.lastDestination
    if (
      last !== undefined &&
      last.port === d.port &&
      last.address === d.address &&
      last.protocol === d.protocol &&
      last.connectionId === d.connectionId
    ) {
      return last
    }
    this.lastDestination = ownDestination(d)
    return this.lastDestination
  }

  private keepWire(r: Remnant, bytes: Uint8Array): void {
    if (r.wire !== undefined) this.arena.release(r.wire)
    r.wire = this.arena.put(bytes)
    r.wireAt = this.arena.at
    r.wireLength = bytes.length
  }

  private mapOf(tx: Core): Map<string, Core> {
    const cancel = tx.method === "CANCEL"
    return tx.kind === Kind.InviteClient || tx.kind === Kind.NonInviteClient
      ? cancel
        ? this.clientCancels
        : this.clients
      : cancel
        ? this.serverCancels
        : this.servers
  }

  private exec(tx: Core, step: Compiled.Step, message: unknown): void {
    switch (step._tag) {
      case "StartTimer": {
        this.cancelTimer(tx, step.timer)
        if (step.ms <= 0) {
          // D, I, J, K are zero on reliable transports: they fire right after this step
          if (tx.immediate === undefined) tx.immediate = step.event
          else (tx.pending ??= []).push([step.event, undefined])
          return
        }
        const now = this.clock.currentTimeMillisUnsafe()
        tx.addTimer(this.queue.schedule(now, step.ms, step.timer, step.event, tx))
        if (now + step.ms < this.wakeup.sleepingUntil) this.wakeup.wake()
        return
      }
      case "CancelTimer":
        this.cancelTimer(tx, step.timer)
        return
      case "Effect":
        if (tx instanceof Remnant) this.execRemnant(tx, step.name, message)
        else this.execFull(tx as Tx, step.name, message)
    }
  }

  private execFull(tx: Tx, name: Compiled.EffectName, message: unknown): void {
    switch (name) {
      case "sendRequest":
        this.enqueue(tx.request, tx.destination, tx)
        return
      case "sendAck": {
        const c = tx as ClientTx
        c.ack ??= Messages.ackFor(tx.request, message as SipResponse)
        this.sendKept(c, c.ack)
        return
      }
      case "sendResponse":
        // the first sends go out as objects, through whatever wraps the transport's send
        if (tx.lastResponse !== undefined) this.sendKept(tx, tx.lastResponse)
        return
      case "sendTrying":
        tx.lastResponse = Messages.tryingFor(tx.request)
        this.sendKept(tx, tx.lastResponse)
        return
      case "passToTU": {
        const c = tx as ClientTx
        c.callbacks.onResponse(message as SipResponse, c)
        return
      }
      case "passAckToTU": {
        const s = tx as ServerTx
        this.strayHandler?.({ _tag: "Ack", request: message as SipRequest, source: s.source, transaction: s })
        return
      }
      case "informTimeout":
        this.informTimeout(tx)
        return
      case "informTransportError":
        this.informTransportError(tx, message as TransportError)
        return
    }
  }

  private execRemnant(r: Remnant, name: Compiled.EffectName, message: unknown): void {
    switch (name) {
      case "sendAck":
        this.resend(r)
        return
      case "sendResponse": {
        // RFC 6026 Accepted: a 2xx retransmitted by the TU replaces the bytes
        if (message !== undefined && (message as SipResponse)._tag === "SipResponse") {
          try {
            this.keepWire(r, Serializer.serialize(message as SipResponse))
          } catch (cause) {
            this.transportFailed(r, encodeError(r.destination, cause))
            return
          }
        }
        this.resend(r)
        return
      }
      case "passToTU": {
        const c = r.handle as ClientTx | undefined
        c?.callbacks.onResponse(message as SipResponse, c)
        return
      }
      case "passAckToTU": {
        // RFC 6026 §8.7: the ACK is the TU's even when it dropped the transaction object
        const s = r.server()
        const source = s?.source ?? r.source
        if (source !== undefined) {
          this.strayHandler?.({ _tag: "Ack", request: message as SipRequest, source, transaction: s })
        }
        return
      }
      case "informTimeout": {
        const h = r.handle
        if (h !== undefined) this.informTimeout(h)
        return
      }
      case "informTransportError": {
        const h = r.handle
        if (h !== undefined) this.informTransportError(h, message as TransportError)
        return
      }
      case "sendRequest":
      case "sendTrying":
        return // never in a lingering state
    }
  }

  private informTimeout(tx: Tx): void {
    const timer =
      tx.kind === Kind.InviteClient
        ? timeoutTimer.InviteClient
        : tx.kind === Kind.NonInviteClient
          ? timeoutTimer.NonInviteClient
          : timeoutTimer.InviteServer
    const error = new TransactionTimeout({ transaction: tx.id, timer })
    if (tx instanceof ClientTx) tx.callbacks.onTimeout?.(error, tx)
    else (tx as ServerTx).listener?.onTimeout?.(error, tx as ServerTx)
  }

  private informTransportError(tx: Tx, error: TransportError): void {
    if (tx instanceof ClientTx) tx.callbacks.onTransportError?.(error, tx)
    else (tx as ServerTx).listener?.onTransportError?.(error, tx as ServerTx)
  }

  private cancelTimer(tx: Core, name: string): void {
    const t = tx.timerNamed(this.queue, name)
    if (t < 0) return
    this.queue.cancel(t)
    tx.dropTimer(t)
  }

  private terminate(tx: Core): void {
    tx.alive = false
    if (tx.timer >= 0) this.queue.cancel(tx.timer)
    if (tx.moreTimers !== undefined) for (const t of tx.moreTimers) this.queue.cancel(t)
    tx.timer = -1
    tx.moreTimers = undefined
    tx.pending = undefined
    this.mapOf(tx).delete(tx.id) // it was alive, so the entry is its own
    const handle = tx instanceof Remnant ? tx.handle : (tx as Tx)
    if (tx instanceof Remnant) {
      this.lingering--
      tx.handle = undefined
      if (tx.wire !== undefined) this.arena.release(tx.wire)
      tx.wire = undefined
    }
    if (handle instanceof ClientTx) handle.callbacks.onTerminated?.(handle)
    else if (handle !== undefined) {
      const s = handle as ServerTx
      s.cancels = undefined
      s.listener?.onTerminated?.(s)
    }
  }

  // -- the pump: sends and timers --

  /** sends; returns the octets when the transport serialised them at once */
  private enqueue(
    message: SipRequest | SipResponse,
    destination: Destination,
    tx: Core | undefined,
  ): Uint8Array | undefined {
    const sendNow = this.sendNow
    if (sendNow !== undefined) {
      // a fiber wake-up per message costs more than the send itself; a failure comes back
      // as an event (queued behind the current step when it is reported at once)
      return sendNow(message, destination, (error) => this.transportFailed(tx, error))
    }
    this.outbox.push(message, destination, tx)
    if (this.outbox.length === 3) this.wakeup.wake()
    return undefined
  }

  /** sends what a Remnant may resend, keeping the transport's octets of it */
  private sendKept(tx: Tx, message: SipRequest | SipResponse): void {
    tx.sent = this.enqueue(message, tx.destination, tx)
    tx.sentOf = message
  }

  private resend(r: Remnant): void {
    if (r.wire === undefined) return
    const bytes = this.arena.read(r.wire, r.wireAt, r.wireLength)
    const sendBytes = this.sendBytes
    if (sendBytes !== undefined) {
      sendBytes(bytes, r.destination, (error) => this.transportFailed(r, error))
      return
    }
    // no byte path in this transport: parse the bytes back (retransmissions only)
    const parsed = Parser.parse(bytes)
    if (parsed._tag === "Ok") this.enqueue(parsed.message, r.destination, r)
  }

  /** fires every timer due now; returns the next deadline */
  fireDue(): number | undefined {
    const now = this.clock.currentTimeMillisUnsafe()
    const queue = this.queue
    for (;;) {
      const tx = queue.takeDue(now)
      if (tx === undefined) return queue.next()
      tx.dropTimer(queue.fired)
      this.dispatch(tx, queue.firedEvent, undefined)
    }
  }

  transportFailed(tx: Core | undefined, error: TransportError): void {
    if (tx !== undefined) this.dispatch(tx, "transportError", error)
  }

  stats(): Stats {
    return {
      clientTransactions: this.clients.size + this.clientCancels.size,
      serverTransactions: this.servers.size + this.serverCancels.size,
      timers: this.queue.armed,
      timerEntries: this.queue.size,
      outbox: this.outbox.length / 3,
      lingering: this.lingering,
    }
  }
}

/** The single fiber of a layer: drains the outbox through the transport, fires due timers, sleeps. */
const pump = (engine: Engine, transport: Transport["Service"]): Effect.Effect<never> =>
  Effect.gen(function* () {
    for (;;) {
      while (engine.outbox.length > 0) {
        const batch = engine.outbox
        engine.outbox = engine.spare
        for (let i = 0; i < batch.length; i += 3) {
          const message = batch[i] as SipRequest | SipResponse
          const destination = batch[i + 1] as Destination
          const tx = batch[i + 2] as Core | undefined
          const exit = yield* Effect.exit(transport.send(message, destination))
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons.find((r) => r._tag === "Fail")
            if (error !== undefined) engine.transportFailed(tx, error.error as TransportError)
          }
        }
        batch.length = 0
        engine.spare = batch
      }
      const next = engine.fireDue()
      if (engine.outbox.length > 0) continue
      const now = engine.clock.currentTimeMillisUnsafe()
      if (next !== undefined && next <= now) continue
      yield* engine.wakeup.sleep(next, now)
    }
  })

/** Builds the service over a Transport; the pump fiber and the subscription live in the Scope. */
export const make = (
  options: Options = {},
): Effect.Effect<TransactionLayer["Service"], never, Transport | Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const clock = yield* Clock.Clock
    const config: Timers.TimerConfig = { ...Timers.defaults, ...options.timers }
    const engine = new Engine(config, options.autoTrying ?? true, clock, transport.sendNow, transport.sendBytes)
    yield* transport.subscribe(engine.receive)
    yield* Effect.forkScoped(pump(engine, transport))

    const serve = (handler: (tx: ServerTransaction) => void) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          engine.serveHandler = handler
        }),
        () =>
          Effect.sync(() => {
            if (engine.serveHandler === handler) engine.serveHandler = undefined
          }),
      )

    const sendRequest = (request: SipRequest, destination: Destination, callbacks: ClientCallbacks) =>
      engine.sendRequest(request, destination, callbacks)

    return TransactionLayer.of({
      timers: config,
      sendRequest,
      serve,
      onStray: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            engine.strayHandler = handler
          }),
          () =>
            Effect.sync(() => {
              if (engine.strayHandler === handler) engine.strayHandler = undefined
            }),
        ),
      findInvite: (cancel) => engine.findInvite(cancel),
      sendStateless: (message, destination) => transport.send(message, destination),
      request: (request, destination) =>
        Effect.callback<SipResponse, InvalidRequest | TransactionTimeout | TransportError>((resume) => {
          const started = sendRequest(request, destination, {
            onResponse: (response) => {
              if (response.status >= 200) resume(Effect.succeed(response))
            },
            onTimeout: (error) => resume(Effect.fail(error)),
            onTransportError: (error) => resume(Effect.fail(error)),
          })
          if (Result.isFailure(started)) resume(Effect.fail(started.failure))
        }),
      serverTransactions: Stream.callback<ServerTransaction>((queue) =>
        serve((tx) => {
          Queue.offerUnsafe(queue, tx)
        }),
      ),
      stats: () => engine.stats(),
    })
  })

export const layer = (options?: Options): Layer.Layer<TransactionLayer, never, Transport> =>
  Layer.effect(TransactionLayer, make(options))
