/**
 * A stateful proxy (RFC 3261 §16) over the TransactionLayer: one server transaction and a
 * response context per request, one client transaction per branch. Validation (§16.3),
 * route preprocessing (§16.4), targets from a replaceable `Router` (§16.5), forwarding with
 * loop-detecting branches, Record-Route and RFC 3263 (§16.6), Timer C (§16.8), the response
 * context (§16.7), CANCEL (§16.10) and stateless forwarding of ACK for 2xx and stray responses.
 * Every destination passes the outbound `NextHopPolicy` before anything is sent.
 */
import { Authenticator, Challenge, Credentials } from "@sipfx/auth"
import {
  Header,
  Headers,
  Message,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type Uri,
  type Via,
} from "@sipfx/message"
import { Messages, TransactionLayer } from "@sipfx/transaction"
import {
  type Destination,
  type ListenPoint,
  type Protocol,
  Resolver,
  Routing,
  type Source,
  Transport,
} from "@sipfx/transport"
import { Context, Effect, Layer, Option, Result, type Scope } from "effect"
import * as BestResponse from "./BestResponse.ts"
import * as Branch from "./Branch.ts"
import { NextHopRefused, NoRoute, type RoutingFailed } from "./Errors.ts"
import type * as NextHops from "./NextHops.ts"
import * as Numeric from "./Numeric.ts"
import * as RouteInfo from "./RouteInfo.ts"
import { type Decision, type RouteInput, Router, type Target } from "./Router.ts"
import * as Self from "./Self.ts"
import * as Timers from "./Timers.ts"
import * as Validation from "./Validation.ts"

export interface Options {
  /** where this proxy may send (required: there is no open default) */
  readonly nextHops: NextHops.NextHopPolicy
  /** domains this proxy is responsible for (§16.5); our own addresses always are */
  readonly domains?: ReadonlyArray<string> | undefined
  /** extra `host:port` names of this proxy (§16.4: Route and Record-Route recognition) */
  readonly aliases?: ReadonlyArray<string> | undefined
  /** stay on the path of dialogs (§16.6 step 4; default true) */
  readonly recordRoute?: boolean | undefined
  /** all targets at once, or groups by descending q one after the other (§16.6; default parallel) */
  readonly forking?: "parallel" | "sequential" | undefined
  /** sequential forking: how long a group may try before the next group starts (ms, default 15 s) */
  readonly branchTimeout?: number | undefined
  /** Timer C (§16.6 step 11), ms; the RFC wants more than 3 minutes (default 181 s) */
  readonly timerC?: number | undefined
  readonly validation?: Validation.Options | undefined
  /** digest authentication before forwarding (§16.3 step 6, §22.3): 407 against `Credentials` */
  readonly auth?: Omit<Authenticator.Options, "kind"> | undefined
  /**
   * Registered contacts are allowed next hops and learned (with their dialogs' later requests)
   * in this set, which the `nextHops` policy may include (`NextHops.either(peers, learned.policy)`).
   */
  readonly registered?: NextHops.Learned | undefined
  /** methods the role takes in a dispatcher (default every method) */
  readonly methods?: ReadonlyArray<string> | undefined
}

export interface Stats {
  /** response contexts alive */
  readonly contexts: number
  /** armed Timer C and sequential-group timers */
  readonly timers: number
  /** requests and responses forwarded statelessly (ACK for 2xx, stray responses) */
  readonly stateless: number
  /** destinations refused by the next-hop policy */
  readonly refused: number
}

export interface ProxyShape {
  readonly methods: ReadonlyArray<string>
  /** takes a new server transaction (CANCEL included) */
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
  /** takes what matches no transaction: ACK for 2xx, late 2xx retransmissions */
  readonly onStray: (stray: TransactionLayer.Stray) => void
  readonly stats: () => Stats
}

export class StatefulProxy extends Context.Service<StatefulProxy, ProxyShape>()("@sipfx/proxy/StatefulProxy") {}

type BranchState = "resolving" | "trying" | "proceeding" | "completed"

interface BranchCtx {
  /**
   * the response context while it is open; cut when it closes, so that a client transaction
   * lingering in Accepted (RFC 6026, 32 s) holds this small record and not the call's messages
   */
  ctx: ResponseContext | undefined
  readonly target: Target
  readonly group: number
  state: BranchState
  request: SipRequest | undefined
  destination: Destination | undefined
  cancelPending: boolean
  cancelSent: boolean
  timerC: Timers.Timer | undefined
  /** §16.6 step 7 failover: the copy before Via and Record-Route, its destinations, the one in use */
  base: SipRequest | undefined
  destinations: ReadonlyArray<Destination> | undefined
  index: number
}

interface ResponseContext {
  readonly server: TransactionLayer.ServerTransaction
  /** the request after §16.4, the base of every copy */
  readonly request: SipRequest
  readonly loopHash: string
  readonly invite: boolean
  readonly branches: Array<BranchCtx>
  readonly groups: Array<ReadonlyArray<Target>>
  readonly responses: Array<SipResponse>
  group: number
  groupTimer: Timers.Timer | undefined
  finalSent: boolean
  /** CANCEL received, 6xx or 2xx: no new branches (§16.7 step 5, §16.10) */
  stopped: boolean
}

/** Timer C runs per branch, the group timer per response context */
type TimerTarget = BranchCtx | ResponseContext

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)
const newTag = () => `${tagPrefix}p${(tagCounter++).toString(36)}`

const bracket = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)
const wildcard = (address: string) => address === "0.0.0.0" || address === "::"
const hostOf = (p: ListenPoint): string =>
  bracket(p.sentBy ?? (wildcard(p.address) ? (p.address === "::" ? "::1" : "127.0.0.1") : p.address))

/** §16.6 step 4: our Record-Route URI (SIP, `lr`, transport only when not UDP). */
const recordRouteFor = (p: ListenPoint, sips: boolean): Header.Header =>
  Header.raw(
    "Record-Route",
    `<${sips ? "sips" : "sip"}:${hostOf(p)}:${p.port}${p.protocol === "UDP" || sips ? "" : `;transport=${p.protocol.toLowerCase()}`};lr>`,
  )

const groupsOf = (targets: ReadonlyArray<Target>, sequential: boolean): Array<ReadonlyArray<Target>> => {
  if (!sequential) return [targets]
  // §16.6: highest q first; equal q in parallel (no q counts as 1.0)
  const byQ = new Map<number, Array<Target>>()
  for (const t of targets) {
    const q = t.q ?? 1
    const g = byQ.get(q)
    if (g) g.push(t)
    else byQ.set(q, [t])
  }
  return [...byQ.keys()].sort((a, b) => b - a).map((q) => byQ.get(q)!)
}

/** §16.6 steps 1–6 for one target: copy, Request-URI, Max-Forwards, Route post-processing. */
export const copyFor = (
  request: SipRequest,
  target: Target,
): { readonly request: SipRequest; readonly strict: boolean } => {
  let r: SipRequest = { ...request, uri: RouteInfo.asRequestUri(target.uri) }
  const mf = Message.maxForwards(r)
  r =
    mf === undefined
      ? Message.appendHeader(r, Header.raw("Max-Forwards", "70"))
      : Message.setHeader(r, Header.raw("Max-Forwards", String(mf - 1)))
  return RouteInfo.postprocess(r, target.routes ?? [])
}

export const make = (
  options: Options,
): Effect.Effect<
  ProxyShape,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | Router | Scope.Scope
> =>
  Effect.gen(function* () {
    const tl = yield* TransactionLayer.TransactionLayer
    const transport = yield* Transport
    const resolver = yield* Resolver.Resolver
    const router = yield* Router
    const credentials = yield* Effect.serviceOption(Credentials)
    const context = yield* Effect.context<never>()
    const run = Effect.runForkWith(context)
    const self = Self.make(transport.listenPoints, options)
    const supported: ReadonlyArray<Protocol> = [...new Set(transport.listenPoints.map((p) => p.protocol))]
    const authenticator =
      options.auth === undefined ? undefined : Authenticator.make({ ...options.auth, kind: "proxy" })
    const recordRoute = options.recordRoute ?? true
    const timerC = Math.max(options.timerC ?? 181_000, 180_001)
    const branchTimeout = options.branchTimeout ?? 15_000
    const sequential = options.forking === "sequential"
    // open response contexts; each is the `tu` of its server transaction (no Map: see `tu`)
    let contexts = 0
    const earlyCancels = new WeakSet<TransactionLayer.ServerTransaction>()
    const timers = yield* Timers.make<TimerTarget>((target, name) => {
      if (name === "timerC") onTimerC(target as BranchCtx)
      else onGroupTimer(target as ResponseContext)
    })
    const routeSync = router.routeSync
    const sendNow = transport.sendNow
    let statelessCount = 0
    let refused = 0

    const reply = (
      tx: TransactionLayer.ServerTransaction,
      status: number,
      reason?: string,
      headers?: ReadonlyArray<Header.Header>,
    ) => tx.respond(Message.response(tx.request, status, reason, { toTag: newTag(), headers: headers ?? [] }))

    const synthetic = (ctx: ResponseContext, status: number, reason?: string): SipResponse =>
      Message.response(ctx.server.request, status, reason, { toTag: newTag() })

    /** Outside any transaction (2xx, ACK for 2xx, strays): a plain call when the transport has one. */
    const sendStateless = (message: SipRequest | SipResponse, destination: Destination) => {
      if (sendNow !== undefined) sendNow(message, destination, () => {})
      else run(Effect.ignore(tl.sendStateless(message, destination)))
    }

    // -- timers: one shared queue on Effect's Clock (TestClock drives it) --

    const arm = timers.schedule
    const disarm = timers.cancel

    // -- branches --

    const sendCancel = (b: BranchCtx) => {
      if (b.cancelSent || b.request === undefined || b.destination === undefined) return
      b.cancelSent = true
      // §9.1 / §16.10: CANCEL with the branch's Via; its response is of no interest
      tl.sendRequest(Messages.cancelFor(b.request), b.destination, { onResponse: () => {} })
    }

    const cancelBranch = (b: BranchCtx) => {
      if (b.state === "completed") return
      if (b.state === "proceeding") sendCancel(b)
      else b.cancelPending = true // §9.1: not before a provisional response
    }

    const cancelAll = (ctx: ResponseContext, except?: BranchCtx) => {
      for (const b of ctx.branches) if (b !== except) cancelBranch(b)
    }

    const complete = (ctx: ResponseContext, b: BranchCtx, response: SipResponse | undefined) => {
      if (b.state === "completed") return
      b.state = "completed"
      disarm(b.timerC)
      b.timerC = undefined
      if (response !== undefined) ctx.responses.push(response)
      checkDone(ctx)
    }

    const checkDone = (ctx: ResponseContext) => {
      if (ctx.branches.some((b) => b.state !== "completed")) return
      if (!ctx.finalSent && !ctx.stopped && ctx.group + 1 < ctx.groups.length) {
        startGroup(ctx, ctx.group + 1)
        return
      }
      if (!ctx.finalSent) {
        ctx.finalSent = true
        ctx.server.respond(BestResponse.choose(ctx.responses) ?? synthetic(ctx, 408))
      }
      disarm(ctx.groupTimer)
      if (ctx.server.tu === ctx) {
        ctx.server.tu = undefined
        contexts--
      }
      for (const b of ctx.branches) release(b)
    }

    /** the context is closed: nothing of the call stays reachable from a lingering transaction */
    const release = (b: BranchCtx) => {
      b.ctx = undefined
      b.request = undefined
      b.base = undefined
      b.destinations = undefined
    }

    /** a 2xx after the context closed (another branch's, or a retransmission): upstream by its Via (§16.7 step 5) */
    const lateResponse = (response: SipResponse) => {
      if (response.status >= 200 && response.status < 300) forwardResponse(response)
    }

    /**
     * one callbacks object per branch, reaching the context only through the branch; 2xx after
     * the branch's own (Accepted, RFC 6026) come as strays and go upstream by their Via
     */
    const callbacksFor = (b: BranchCtx): TransactionLayer.ClientCallbacks => ({
      acceptedResponses: "stray",
      onResponse: (response) => {
        const ctx = b.ctx
        if (ctx !== undefined) onResponse(ctx, b, response)
        else lateResponse(response)
      },
      onTimeout: (_, tx) => {
        const ctx = b.ctx
        if (ctx === undefined) return
        if (b.request === tx.request && b.state === "proceeding") complete(ctx, b, synthetic(ctx, 408))
        else retry(ctx, b, tx)
      },
      onTransportError: (_, tx) => {
        const ctx = b.ctx
        if (ctx !== undefined) retry(ctx, b, tx)
      },
    })

    /** §16.6 step 7: the branch's transaction failed before any response: the next destination */
    const retry = (ctx: ResponseContext, b: BranchCtx, tx: TransactionLayer.ClientTransaction) => {
      if (b.request !== tx.request || b.state !== "trying" || b.base === undefined || b.destinations === undefined)
        return
      send(ctx, b, b.base, b.destinations, b.index + 1)
    }

    const restartTimerC = (b: BranchCtx) => {
      disarm(b.timerC)
      b.timerC = arm(timerC, "timerC", b)
    }

    const onTimerC = (b: BranchCtx) => {
      b.timerC = undefined
      const ctx = b.ctx
      if (ctx === undefined) return
      // §16.8: CANCEL a branch that has answered provisionally, else act as if it sent 408
      if (b.state === "proceeding") sendCancel(b)
      else complete(ctx, b, synthetic(ctx, 408))
    }

    const onResponse = (ctx: ResponseContext, b: BranchCtx, response: SipResponse) => {
      const up = BestResponse.upstream(response)
      const status = response.status
      if (status < 200) {
        if (b.state === "completed") return
        if (b.state === "trying") {
          b.state = "proceeding"
          if (b.cancelPending) sendCancel(b)
        }
        if (ctx.invite && status > 100) restartTimerC(b) // §16.7 step 2
        if (status > 100 && !ctx.finalSent) ctx.server.respond(up) // §16.7 step 5
        return
      }
      if (status < 300) {
        // §16.7 step 5: every 2xx goes upstream at once, later ones from other branches too
        if (!ctx.server.respond(up)) sendStateless(up, ctx.server.destination)
        ctx.finalSent = true
        ctx.stopped = true
        if (ctx.invite) cancelAll(ctx, b) // §16.7 step 10: the others
        complete(ctx, b, undefined)
        return
      }
      if (b.state === "completed") return
      if (status >= 600) {
        // §16.7 step 5: a 6xx ends the search: cancel the rest, start nothing new
        ctx.stopped = true
        cancelAll(ctx, b)
      }
      complete(ctx, b, up)
    }

    /** §16.6 steps 8–11 for destination `i` of the branch; failover to the next on timeout or error. */
    const send = (
      ctx: ResponseContext,
      b: BranchCtx,
      base: SipRequest,
      destinations: ReadonlyArray<Destination>,
      i: number,
    ): void => {
      const destination = destinations[i]
      if (destination === undefined) {
        complete(ctx, b, synthetic(ctx, 408)) // §16.6 step 7: set exhausted → as if 408
        return
      }
      const point = self.pointFor(destination.protocol)
      if (point === undefined) {
        send(ctx, b, base, destinations, i + 1)
        return
      }
      const via: Via = {
        protocol: "SIP",
        version: "2.0",
        transport: destination.protocol,
        host: hostOf(point),
        port: point.port,
        params: [
          ["branch", Branch.make(ctx.loopHash)],
          ["rport", null],
        ],
      }
      let request = base
      if (recordRoute) {
        const sips = base.uri._tag === "SipUri" && base.uri.scheme === "sips"
        request = Message.prependHeader(request, recordRouteFor(point, sips))
      }
      request = Message.prependHeader(request, Header.make(Headers.Via, via))
      b.request = request
      b.destination = destination
      b.state = "trying"
      b.base = base
      b.destinations = destinations
      b.index = i
      const started = tl.sendRequest(request, destination, callbacksFor(b))
      if (Result.isFailure(started)) {
        send(ctx, b, base, destinations, i + 1)
        return
      }
      if (ctx.invite) restartTimerC(b)
    }

    const resolve = (uri: Uri.Uri, target: string) => {
      if (uri._tag !== "SipUri") return Effect.fail(new NoRoute({ target, reason: `cannot route to ${uri._tag}` }))
      return resolver
        .resolve(uri as SipUri, { supported })
        .pipe(Effect.mapError((e) => new NoRoute({ target, reason: e.message })))
    }

    /** Policy check on a resolved set: refused destinations are dropped (never contacted). */
    const allowed = (
      target: string,
      destinations: ReadonlyArray<Destination>,
      registered?: boolean,
    ): ReadonlyArray<Destination> | NextHopRefused => {
      const learned = options.registered
      if (registered === true && learned !== undefined) {
        for (const d of destinations) learned.learn(d)
        return destinations
      }
      const ok = destinations.filter(options.nextHops)
      refused += destinations.length - ok.length
      return ok.length > 0 ? ok : new NextHopRefused({ target, destinations })
    }

    const startBranch = (ctx: ResponseContext, b: BranchCtx) => {
      const forwarded = copyFor(ctx.request, b.target)
      const name = Message.header(forwarded.request, "Route") === undefined ? "target" : "route"
      const uri = RouteInfo.nextHopUri(forwarded)
      const found = (ds: ReadonlyArray<Destination> | NoRoute) => {
        if (!Array.isArray(ds)) {
          complete(ctx, b, synthetic(ctx, 408))
          return
        }
        const ok = allowed(name, ds, b.target.registered)
        if (!Array.isArray(ok)) complete(ctx, b, synthetic(ctx, 403, "Forbidden (next hop not allowed)"))
        else if (b.cancelPending) complete(ctx, b, synthetic(ctx, 487))
        else send(ctx, b, forwarded.request, ok, 0)
      }
      // a given destination or a numeric host needs no DNS: no fiber
      const known = b.target.destination ?? Numeric.destination(uri)
      if (known !== undefined) found([known])
      else run(Effect.match(resolve(uri, `${name} ${uri._tag}`), { onFailure: found, onSuccess: found }))
    }

    /** this group had its time (§16.6 serial processing): cancel it and try the next */
    const onGroupTimer = (ctx: ResponseContext) => {
      ctx.groupTimer = undefined
      const index = ctx.group
      if (ctx.finalSent || ctx.stopped) return
      for (const b of ctx.branches) if (b.group === index) cancelBranch(b)
      // a CANCEL answered at once may have completed the group, and checkDone started the next
      if (ctx.group === index && !ctx.finalSent && !ctx.stopped) startGroup(ctx, index + 1)
    }

    const startGroup = (ctx: ResponseContext, index: number) => {
      ctx.group = index
      const group = ctx.groups[index] ?? []
      const branches = group.map(
        (target): BranchCtx => ({
          ctx,
          target,
          group: index,
          state: "resolving",
          request: undefined,
          destination: undefined,
          cancelPending: false,
          cancelSent: false,
          timerC: undefined,
          base: undefined,
          destinations: undefined,
          index: 0,
        }),
      )
      ctx.branches.push(...branches)
      disarm(ctx.groupTimer)
      ctx.groupTimer = undefined
      if (index + 1 < ctx.groups.length) ctx.groupTimer = arm(branchTimeout, "group", ctx)
      for (const b of branches) startBranch(ctx, b)
      if (branches.length === 0) checkDone(ctx)
    }

    // -- the request path --

    const authorize = (tx: TransactionLayer.ServerTransaction): Effect.Effect<boolean> => {
      if (authenticator === undefined) return Effect.succeed(true)
      if (Option.isNone(credentials)) {
        reply(tx, 500, "Server Internal Error (no credentials store)")
        return Effect.succeed(false)
      }
      return authenticator.verify(tx.request).pipe(
        Effect.provideService(Credentials, credentials.value),
        Effect.flatMap((result) => {
          if (result._tag === "Ok") return Effect.succeed(true)
          return authenticator.challenge({ stale: result._tag === "Stale" }).pipe(
            Effect.map((values) => {
              reply(tx, 407, undefined, Challenge.toHeaders("proxy", "challenge", values))
              return false
            }),
          )
        }),
        Effect.catch((e) =>
          Effect.sync(() => {
            if (e._tag === "MalformedAuth") reply(tx, 400, `Bad Request (${e.reason})`)
            else reply(tx, 500)
            return false
          }),
        ),
      )
    }

    /** §16.4 preprocessing and what the Router is told (§16.5). */
    const routeInput = (received: SipRequest, source: Source): RouteInput => {
      const first = Message.first(received, Headers.Route)
      const routedViaUs = first !== undefined && Self.isUs(self, first.uri)
      const request = RouteInfo.preprocess(self, received)
      return { request, source, ours: Self.isOurDomain(self, request.uri), routedViaUs }
    }

    const failed = (e: RoutingFailed): Decision => ({
      _tag: "Respond",
      status: 500,
      reason: `Server Internal Error (${e.reason})`,
    })

    /** §16.5 decided: answer, or open the response context and start forwarding (§16.6). */
    const forward = (tx: TransactionLayer.ServerTransaction, input: RouteInput, decision: Decision) => {
      if (earlyCancels.has(tx)) {
        reply(tx, 487)
        return
      }
      if (decision._tag === "Respond") {
        reply(tx, decision.status, decision.reason, decision.headers)
        return
      }
      if (decision.targets.length === 0) {
        reply(tx, 480) // §16.5: empty target set
        return
      }
      const received = tx.request
      const ctx: ResponseContext = {
        server: tx,
        request: input.request,
        loopHash: Branch.invariants(received, Message.topVia(received)),
        invite: input.request.method === "INVITE",
        branches: [],
        groups: groupsOf(decision.targets, sequential),
        responses: [],
        group: 0,
        groupTimer: undefined,
        finalSent: false,
        stopped: false,
      }
      tx.tu = ctx
      contexts++
      startGroup(ctx, 0)
    }

    /** The request path with a fiber: digest authentication or a Router that does I/O. */
    const process = (tx: TransactionLayer.ServerTransaction): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (!(yield* authorize(tx))) return
        const input = routeInput(tx.request, tx.source)
        const decision: Decision = yield* router.route(input).pipe(Effect.catch((e) => Effect.succeed(failed(e))))
        forward(tx, input, decision)
      })

    /** §16.10: 200 to the CANCEL, then CANCEL every pending branch of the INVITE's context. */
    const cancel = (tx: TransactionLayer.ServerTransaction) => {
      if (!tx.cancelMatched) {
        reply(tx, 481)
        return
      }
      reply(tx, 200)
      // past its final response the INVITE has nothing left to cancel (§9.2)
      const invite = tx.cancels
      if (invite === undefined) return
      const ctx = invite.tu as ResponseContext | undefined
      if (ctx === undefined) {
        earlyCancels.add(invite)
        return
      }
      ctx.stopped = true
      cancelAll(ctx)
    }

    const handle = (tx: TransactionLayer.ServerTransaction): void => {
      const request = tx.request
      if (request.method === "CANCEL") {
        cancel(tx)
        return
      }
      const rejection = Validation.check(self, request, options.validation)
      if (rejection !== undefined) {
        reply(tx, rejection.status, rejection.reason, rejection.headers)
        return
      }
      // §16.2: a stateful proxy answers an INVITE with 100 at once
      if (request.method === "INVITE") tx.respond(Messages.tryingFor(request))
      if (authenticator === undefined && routeSync !== undefined) {
        // the common case (no 407, a Router that needs no I/O): plain calls, no fiber
        const input = routeInput(request, tx.source)
        const decision = routeSync(input)
        forward(tx, input, decision._tag === "RoutingFailed" ? failed(decision) : decision)
      } else run(process(tx))
    }

    // -- stateless forwarding: ACK for 2xx (end to end, §16.11 behaviour) and stray responses --

    const relayAck = (
      request: SipRequest,
      forwarded: SipRequest,
      target: Target,
      found: ReadonlyArray<Destination> | NoRoute,
    ) => {
      if (!Array.isArray(found)) return
      const ok = allowed("ack", found, target.registered)
      const destination = Array.isArray(ok) ? ok[0] : undefined
      const point = destination === undefined ? undefined : self.pointFor(destination.protocol)
      if (destination === undefined || point === undefined) return
      const via: Via = {
        protocol: "SIP",
        version: "2.0",
        transport: destination.protocol,
        host: hostOf(point),
        port: point.port,
        params: [["branch", Branch.stateless(request, Message.header(forwarded, "Route") ?? "")]],
      }
      statelessCount++
      sendStateless(Message.prependHeader(forwarded, Header.make(Headers.Via, via)), destination)
    }

    const forwardAck = (request: SipRequest, source: Source): void => {
      if (Validation.check(self, request, options.validation) !== undefined) return // an ACK gets no answer
      const input = routeInput(request, source)
      const decided = (decision: Decision | RoutingFailed) => {
        if (decision._tag !== "Forward" || decision.targets.length === 0) return
        const target = decision.targets[0]!
        const copy = copyFor(input.request, target)
        const forwarded = copy.request
        const uri = RouteInfo.nextHopUri(copy)
        const known = target.destination ?? Numeric.destination(uri)
        if (known !== undefined) relayAck(request, forwarded, target, [known])
        else {
          const relay = (found: ReadonlyArray<Destination> | NoRoute) => relayAck(request, forwarded, target, found)
          run(Effect.match(resolve(uri, "ack"), { onFailure: relay, onSuccess: relay }))
        }
      }
      if (routeSync !== undefined) decided(routeSync(input))
      else run(Effect.match(router.route(input), { onFailure: decided, onSuccess: decided }))
    }

    const forwardResponse = (response: SipResponse) => {
      const top = Message.topVia(response)
      if (top === undefined || !Self.isOurVia(self, top)) return // §16.7 step 3: not ours, drop
      const up = BestResponse.upstream(response)
      const destination = Routing.responseDestination(up)
      if ("_tag" in destination) return
      if (!options.nextHops(destination)) {
        refused++
        return
      }
      statelessCount++
      sendStateless(up, destination)
    }

    const onStray = (stray: TransactionLayer.Stray): void => {
      if (stray._tag === "Ack") forwardAck(stray.request, stray.source)
      else forwardResponse(stray.response)
    }

    return {
      methods: options.methods ?? ["*"],
      handle,
      onStray,
      stats: () => ({ contexts, timers: timers.armed(), stateless: statelessCount, refused }),
    }
  })

export const layer = (
  options: Options,
): Layer.Layer<StatefulProxy, never, TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | Router> =>
  Layer.effect(
    StatefulProxy,
    Effect.map(make(options), (shape) => StatefulProxy.of(shape)),
  )

/** The proxy as the only user of a TransactionLayer: every server transaction and every stray. */
export const serve: Layer.Layer<never, never, StatefulProxy | TransactionLayer.TransactionLayer> = Layer.effectDiscard(
  Effect.gen(function* () {
    const proxy = yield* StatefulProxy
    const transactions = yield* TransactionLayer.TransactionLayer
    yield* transactions.serve(proxy.handle)
    yield* transactions.onStray(proxy.onStray)
  }),
)
