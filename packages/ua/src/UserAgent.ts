/**
 * A SIP user agent (RFC 3261 §8, §10, §12–15, RFC 3428) as an Effect service over the
 * TransactionLayer. Dialog state lives in `@sipfx/dialog` machines; this module performs
 * their actions: sending, ACKs, 2xx retransmission, BYE, CANCEL, registration refreshes.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Challenge, Client } from "@sipfx/auth"
import { Dialog, DialogRunner, DialogTable, Forking } from "@sipfx/dialog"
import {
  type AuthValue,
  type ContactValue,
  Header,
  Headers,
  Message,
  type NameAddr,
  type SipRequest,
  type SipResponse,
  Uri,
} from "@sipfx/message"
import { Messages, TransactionLayer as TL } from "@sipfx/transaction"
import { type Destination, type ListenPoint, type Protocol, Resolver as R, Routing, Transport } from "@sipfx/transport"
import { Cause, Context, Deferred, Effect, Exit, FiberSet, Layer, Queue, Result, type Scope, Stream } from "effect"
import {
  AuthenticationFailed,
  InvalidTarget,
  NoRoute,
  RequestFailed,
  RequestTimeout,
  TooManyRedirects,
  type UacError,
} from "./Errors.ts"
import * as Uas from "./Uas.ts"

type ClientTransaction = TL.ClientTransaction
type ServerTransaction = TL.ServerTransaction
const TransactionLayer = TL.TransactionLayer
type TransactionLayer = TL.TransactionLayer
const Resolver = R.Resolver
type Resolver = R.Resolver

// ---- configuration and services ----

export interface Config {
  /** address of record, e.g. `sip:alice@example.com` (From of out-of-dialog requests, §8.1.1.3) */
  readonly aor: string
  readonly displayName?: string | undefined
  /** pre-existing route (§8.1.2): every out-of-dialog request goes through it (`sip:proxy.example.com;lr`) */
  readonly outboundProxy?: string | undefined
  /** registrar URI; defaults to the AOR's domain (§10.2) */
  readonly registrar?: string | undefined
  /** follow 3xx Contacts up to this many times (§8.1.3.4); 0 turns recursion off; default 5 */
  readonly maxRedirects?: number | undefined
  /** user part of our Contact; defaults to the AOR's user */
  readonly contactUser?: string | undefined
  readonly capabilities?: Partial<Uas.Capabilities> | undefined
  /** User-Agent header */
  readonly product?: string | undefined
  /**
   * Takes a request before the UA core does (e.g. NOTIFY for an RFC 6665 subscriber); true when it
   * answered the server transaction.
   */
  readonly requests?: ((tx: ServerTransaction) => boolean) | undefined
  /** told each transition of the RFC 4235 §3.7.1 dialog FSM of our INVITE dialogs (the `dialog` event package) */
  readonly dialogEvents?: ((event: DialogEvent) => void) | undefined
}

/** One transition of the RFC 4235 dialog FSM (§3.7.1) at this UA. */
export interface DialogEvent {
  /** stable from the INVITE on; each extra fork gets its own (§4.1.1) */
  readonly id: string
  readonly callId: string
  readonly localTag: string
  readonly remoteTag?: string | undefined
  readonly direction: "initiator" | "recipient"
  readonly state: "trying" | "proceeding" | "early" | "confirmed" | "terminated"
  readonly event?: "cancelled" | "rejected" | "local-bye" | "remote-bye" | "error" | "timeout" | undefined
  readonly code?: number | undefined
  readonly local: string
  readonly remote: string
  readonly remoteTarget?: string | undefined
}

export interface Credential {
  readonly username: string
  readonly password: string
}

/** Client-side digest credentials by realm (§22.2). Without a Layer the UA has none. */
export const ClientCredentials = Context.Reference<{
  readonly lookup: (realm: string) => Credential | undefined
}>("@sipfx/ua/ClientCredentials", { defaultValue: () => ({ lookup: () => undefined }) })

/** The same credential for every realm. */
export const credentials = (credential: Credential) => Layer.succeed(ClientCredentials, { lookup: () => credential })

// ---- public handles ----

export type CallState = "Early" | "Confirmed" | "Terminated"

export interface Call {
  readonly id: Dialog.DialogId
  /** the peer's session description (answer for calls we made, offer for calls we took) */
  readonly remoteBody: () => Uint8Array
  readonly state: () => CallState
  /** sends BYE (once) and ends the dialog (§15.1.1) */
  readonly bye: Effect.Effect<void>
  /** re-INVITE with a new offer (§14.1); the 2xx is ACKed, its body becomes `remoteBody` */
  readonly reinvite: (offer: Uint8Array, contentType?: string) => Effect.Effect<SipResponse, UacError>
  /** any other request within the dialog (INFO, MESSAGE, OPTIONS…) */
  readonly request: (method: string, body?: Uint8Array, contentType?: string) => Effect.Effect<SipResponse, UacError>
  /** waits until the dialog ends; gives the reason */
  readonly ended: Effect.Effect<string>
}

export interface IncomingCall {
  readonly request: SipRequest
  readonly offer: Uint8Array
  /** 180 Ringing with our To tag (an early dialog on the caller's side) */
  readonly ring: Effect.Effect<void>
  /** 200 with the answer; retransmitted until ACK (§13.3.1.4). Closing the Scope sends BYE. */
  readonly accept: (answer: Uint8Array, contentType?: string) => Effect.Effect<Call, never, Scope.Scope>
  readonly reject: (status?: number, reason?: string) => Effect.Effect<void>
  /** 3xx with these Contacts (§8.3, §21.3) */
  readonly redirect: (contacts: ReadonlyArray<string>, status?: number) => Effect.Effect<void>
  /** completes when the caller CANCELs (§9.2: answered 200, the INVITE 487) */
  readonly cancelled: Effect.Effect<void>
}

export interface IncomingMessage {
  readonly request: SipRequest
  readonly from: NameAddr | undefined
  readonly contentType: string | undefined
  readonly body: Uint8Array
  readonly text: string
}

export interface Registration {
  /** the expiry the registrar granted, seconds */
  readonly expires: () => number
  /** REGISTER transactions that succeeded (1 after the first, +1 per refresh) */
  readonly refreshes: () => number
  readonly contact: string
}

export interface RegisterOptions {
  readonly expires?: number | undefined
  readonly registrar?: string | undefined
}

export class UserAgent extends Context.Service<
  UserAgent,
  {
    readonly aor: Uri.Uri
    /** our Contact for a transport (§8.1.1.8) */
    readonly contact: (protocol?: Protocol) => string
    /** INVITE with an offer; resolves on the first 2xx. Closing the Scope sends BYE; interrupting a pending call CANCELs it (§9.1). */
    readonly call: (
      target: string,
      offer: Uint8Array,
      contentType?: string,
    ) => Effect.Effect<Call, UacError, Scope.Scope>
    readonly incoming: Stream.Stream<IncomingCall>
    readonly messages: Stream.Stream<IncomingMessage>
    /** RFC 3428 MESSAGE outside any dialog: its own Call-ID and From tag */
    readonly message: (
      target: string,
      text: string | Uint8Array,
      contentType?: string,
    ) => Effect.Effect<SipResponse, UacError>
    readonly options: (target: string) => Effect.Effect<SipResponse, UacError>
    /** REGISTER, refreshed before expiry; removed (Expires: 0) when the Scope closes (§10.2) */
    readonly register: (options?: RegisterOptions) => Effect.Effect<Registration, UacError, Scope.Scope>
    readonly stats: () => { readonly dialogs: number; readonly sessions: number }
  }
>()("@sipfx/ua/UserAgent") {}

// ---- helpers ----

const enc = new TextEncoder()
const dec = new TextDecoder()
export const newTag = (): string => randomBytes(6).toString("hex")
export const newCallId = (host: string): string => `${randomUUID()}@${host}`

const parseUri = (input: string): Effect.Effect<Uri.Uri, InvalidTarget> =>
  Effect.mapError(Uri.parseEffect(input), (e) => new InvalidTarget({ input, reason: e.message }))

interface FsmParts {
  readonly callId: string
  readonly localTag: string
  readonly remoteTag?: string | undefined
  readonly local: Uri.Uri
  readonly remote: Uri.Uri
  readonly remoteTarget?: Uri.Uri | undefined
}
const fsmParts = (d: Dialog.DialogData): FsmParts => ({
  ...d.id,
  local: d.localParty.uri,
  remote: d.remoteParty.uri,
  remoteTarget: d.remoteTarget,
})

const sipUriOf = (u: Uri.Uri) => (u._tag === "SipUri" ? u : undefined)

/** Contacts of a 3xx in q order (§8.1.3.4, §20.10). */
const redirectTargets = (response: SipResponse): Array<Uri.Uri> => {
  const contacts = Message.all(response, Headers.Contact).filter(
    (c): c is Extract<ContactValue, { _tag: "Contact" }> => c._tag === "Contact",
  )
  const q = (c: NameAddr) => Number(Message.param(c.params, "q") ?? "1")
  return [...contacts].sort((a, b) => q(b) - q(a)).map((c) => c.uri)
}

// ---- the implementation ----

interface Session {
  readonly dialog: DialogRunner
  readonly role: "UAC" | "UAS"
  remoteBody: Uint8Array
  localBody: Uint8Array
  localContentType: string
  /** ACKs sent for 2xx by INVITE CSeq, re-sent for retransmitted 2xx (§13.2.2.4) */
  readonly acks: Map<number, readonly [SipRequest, Destination]>
  /** UAS: the ACK for our 2xx arrived (§13.3.1.4) */
  acked: boolean
  readonly ended: Deferred.Deferred<string>
  byeSent: boolean
  /** RFC 4235 FSM id, when dialog events are reported */
  fsm?: { readonly id: string; readonly direction: "initiator" | "recipient" } | undefined
}

export const make = (
  config: Config,
): Effect.Effect<UserAgent["Service"], InvalidTarget, TransactionLayer | Transport | Resolver | Scope.Scope> =>
  Effect.gen(function* () {
    const tl = yield* TransactionLayer
    const transport = yield* Transport
    const resolver = yield* Resolver
    const run = yield* FiberSet.makeRuntime<never>()
    const store = yield* ClientCredentials
    const aor = yield* parseUri(config.aor)
    const aorSip = sipUriOf(aor)
    if (aorSip === undefined)
      return yield* new InvalidTarget({ input: config.aor, reason: "the AOR must be a sip/sips URI" })
    const proxy = config.outboundProxy === undefined ? undefined : yield* parseUri(config.outboundProxy)
    const caps: Uas.Capabilities = { ...Uas.defaults, ...config.capabilities }
    const maxRedirects = config.maxRedirects ?? 5
    const t1 = tl.timers.t1
    const t2 = tl.timers.t2
    const localParty = (tag: string): NameAddr => ({
      displayName: config.displayName,
      uri: aor,
      params: [["tag", tag]],
    })
    const product: ReadonlyArray<Header.Header> =
      config.product === undefined ? [] : [{ name: "User-Agent", value: config.product }]

    const table = new DialogTable()
    const sessions = new Map<string, Session>()
    const merges = new Uas.MergeDetector()

    // RFC 4235 §3.7.1: the dialog FSM's transitions, for the `dialog` event package
    const fsmReport = (
      id: string,
      direction: "initiator" | "recipient",
      d: FsmParts,
      state: DialogEvent["state"],
      extra: { readonly event?: DialogEvent["event"]; readonly code?: number | undefined } = {},
    ): void =>
      config.dialogEvents?.({
        id,
        callId: d.callId,
        localTag: d.localTag,
        remoteTag: d.remoteTag === "" ? undefined : d.remoteTag,
        direction,
        state,
        event: extra.event,
        code: extra.code,
        local: Uri.format(d.local),
        remote: Uri.format(d.remote),
        remoteTarget: d.remoteTarget === undefined ? undefined : Uri.format(d.remoteTarget),
      })
    const incomingCalls = yield* Queue.unbounded<IncomingCall>()
    const incomingMessages = yield* Queue.unbounded<IncomingMessage>()

    // -- addresses --

    const pointFor = (protocol: Protocol): ListenPoint | undefined =>
      transport.listenPoints.find((p) => p.protocol === protocol) ?? undefined

    const contactUri = (protocol: Protocol = "UDP"): Uri.Uri => {
      const p = pointFor(protocol) ?? transport.listenPoints[0]!
      const host = p.sentBy ?? (p.address.includes(":") ? `[${p.address}]` : p.address)
      return Uri.sip({
        user: config.contactUser ?? aorSip.user,
        host,
        port: p.port,
        params: p.protocol === "UDP" ? [] : [["transport", p.protocol.toLowerCase()]],
      })
    }
    const contactAddr = (protocol?: Protocol): NameAddr => ({
      displayName: undefined,
      uri: contactUri(protocol),
      params: [],
    })

    /** §8.1.2 + RFC 3263: the first destination for a URI. */
    const locate = (next: Uri.Uri): Effect.Effect<Destination, NoRoute> =>
      Effect.gen(function* () {
        const sip = sipUriOf(next)
        if (sip === undefined) return yield* new NoRoute({ reason: `cannot route to ${Uri.format(next)}` })
        const supported = [...new Set(transport.listenPoints.map((p) => p.protocol))]
        const found = yield* Effect.mapError(
          resolver.resolve(sip, { supported }),
          (e) => new NoRoute({ reason: e.message, cause: e }),
        )
        const first = found[0]
        if (first === undefined) return yield* new NoRoute({ reason: `${Uri.format(next)} does not resolve` })
        return first
      })

    /** A fresh top Via (new branch) for the destination's transport (§8.1.1.7, §18.1.1). */
    const stamp = (request: SipRequest, destination: Destination): SipRequest | NoRoute => {
      const point = pointFor(destination.protocol)
      if (point === undefined) return new NoRoute({ reason: `no ${destination.protocol} listening point` })
      return Routing.prepareRequest(Message.removeAll(request, Headers.Via), point, { rport: true })
    }

    /** One client transaction; resolves with the final response. */
    const transact = (
      request: SipRequest,
      next: Uri.Uri,
      onResponse?: (r: SipResponse, tx: ClientTransaction) => void,
      onTerminated?: () => void,
    ): Effect.Effect<readonly [SipResponse, SipRequest, Destination], NoRoute | RequestTimeout> =>
      Effect.gen(function* () {
        const destination = yield* locate(next)
        const stamped = stamp(request, destination)
        if (stamped instanceof NoRoute) return yield* stamped
        const response = yield* Effect.callback<SipResponse, NoRoute | RequestTimeout>((resume) => {
          let done = false
          const started = tl.sendRequest(stamped, destination, {
            onResponse: (r, tx) => {
              onResponse?.(r, tx)
              if (r.status >= 200 && !done) {
                done = true
                resume(Effect.succeed(r))
              }
            },
            onTimeout: () => {
              if (!done) resume(Effect.fail(new RequestTimeout({ method: request.method })))
              done = true
            },
            onTransportError: (e) => {
              if (!done) resume(Effect.fail(new NoRoute({ reason: e.message, cause: e })))
              done = true
            },
            onTerminated: () => onTerminated?.(),
          })
          if (Result.isFailure(started)) resume(Effect.fail(new NoRoute({ reason: started.failure.reason })))
        })
        return [response, stamped, destination] as const
      })

    /** The first hop of an out-of-dialog request: the outbound proxy, else the Request-URI (§8.1.2). */
    const outOfDialogNext = (uri: Uri.Uri): Uri.Uri => proxy ?? uri
    const proxyRoute = (): Array<Header.Header> =>
      proxy === undefined ? [] : [Header.make(Headers.Route, { displayName: undefined, uri: proxy, params: [] })]

    /**
     * §8.1.1: what every request outside a dialog carries (a pre-loaded Route to the outbound
     * proxy first); `to` is the Request-URI, or the AOR for REGISTER (§10.2).
     */
    const outOfDialogHeaders = (
      to: NameAddr,
      tag: string,
      callId: string,
      seq: number,
      method: string,
    ): Array<Header.Header> => [
      ...proxyRoute(),
      Header.make(Headers.MaxForwards, 70),
      Header.make(Headers.From, localParty(tag)),
      Header.make(Headers.To, to),
      Header.make(Headers.CallId, callId),
      Header.make(Headers.CSeq, { seq, method }),
    ]

    interface Attempt {
      readonly uri: Uri.Uri
      readonly seq: number
      readonly auth: ReadonlyArray<Header.Header>
    }

    /** The last challenge answered, kept by a registration so refreshes carry credentials (§22.3). */
    interface AuthState {
      challenge: AuthValue | undefined
      kind: Challenge.Kind
      nonce: string | undefined
      nc: number
    }
    const authState = (): AuthState => ({ challenge: undefined, kind: "www", nonce: undefined, nc: 0 })

    const credentialsFor = (
      state: AuthState,
      method: string,
      uri: Uri.Uri,
      body: Uint8Array,
    ): ReadonlyArray<Header.Header> | AuthenticationFailed => {
      const c = state.challenge
      if (c === undefined) return []
      const realm = Challenge.param(c, "realm")!
      const credential = store.lookup(realm)
      if (credential === undefined)
        return new AuthenticationFailed({ realm, status: 401, reason: "no credentials for the realm" })
      state.nc++
      const answer = Client.respond(c, { ...credential, method, uri: Uri.format(uri), body }, state.nc)
      if (!("scheme" in answer))
        return new AuthenticationFailed({ realm, status: 401, reason: (answer as { reason: string }).reason })
      return Challenge.toHeaders(state.kind, "credentials", [answer as AuthValue])
    }

    /**
     * The UAC core loop (§8.1.3): 401/407 → retry with credentials (§22.2), a second challenge
     * for the same realm that is not stale → AuthenticationFailed; 3xx → next Contact (§8.1.3.4).
     */
    const uacLoop = (
      target: Uri.Uri,
      seq0: number,
      method: string,
      attempt: (a: Attempt) => Effect.Effect<readonly [SipResponse, SipRequest], UacError>,
      state: AuthState = authState(),
      body: Uint8Array = new Uint8Array(0),
    ): Effect.Effect<SipResponse, UacError> =>
      Effect.gen(function* () {
        let uri = target
        let seq = seq0
        const answered = new Set<string>()
        const tried = [Uri.format(target)]
        let redirects = 0
        for (;;) {
          const auth = credentialsFor(state, method, uri, body)
          if (auth instanceof AuthenticationFailed) return yield* auth
          const [response] = yield* attempt({ uri, seq, auth })
          const status = response.status
          if (status < 300) return response
          if (status === 401 || status === 407) {
            const kind = status === 401 ? "www" : "proxy"
            const challenges = Challenge.challengesOf(response, kind)
            const chosen = Array.isArray(challenges) ? Client.select(challenges) : undefined
            const realm = chosen === undefined ? undefined : Challenge.param(chosen, "realm")
            if (chosen === undefined || realm === undefined)
              return yield* new AuthenticationFailed({ realm, status, reason: "no usable challenge" })
            if (store.lookup(realm) === undefined)
              return yield* new AuthenticationFailed({ realm, status, reason: "no credentials for the realm" })
            const stale = Challenge.param(chosen, "stale")?.toLowerCase() === "true"
            // the same realm challenging our answer again without stale=true: the password is wrong (§22.2)
            if (answered.has(realm) && !stale)
              return yield* new AuthenticationFailed({ realm, status, reason: "credentials rejected" })
            answered.add(realm)
            const nonce = Challenge.param(chosen, "nonce")
            if (nonce !== state.nonce) state.nc = 0
            state.challenge = chosen
            state.kind = kind
            state.nonce = nonce
            seq++
            continue
          }
          if (status >= 300 && status < 400 && maxRedirects > 0) {
            const next = redirectTargets(response).find((u) => !tried.includes(Uri.format(u)))
            if (next === undefined || redirects >= maxRedirects) return yield* new TooManyRedirects({ tried })
            redirects++
            tried.push(Uri.format(next))
            uri = next
            state.challenge = undefined
            seq++
            continue
          }
          return yield* new RequestFailed({ status, reason: response.reason, response })
        }
      })

    /** An out-of-dialog request (§8.1.1) with fresh Call-ID and From tag. */
    const outOfDialog = (
      method: string,
      target: string,
      extra: (uri: Uri.Uri) => ReadonlyArray<Header.Header>,
      body?: Uint8Array,
    ): Effect.Effect<SipResponse, UacError> =>
      Effect.gen(function* () {
        const uri = yield* parseUri(target)
        const callId = newCallId(aorSip.host)
        const tag = newTag()
        return yield* uacLoop(uri, 1, method, ({ uri, seq, auth }) => {
          const request = Message.request({
            method,
            uri,
            headers: [
              ...outOfDialogHeaders({ displayName: undefined, uri, params: [] }, tag, callId, seq, method),
              ...auth,
              ...product,
              ...extra(uri),
            ],
            ...(body === undefined ? {} : { body }),
          })
          return Effect.map(transact(request, outOfDialogNext(uri)), ([r, sent]) => [r, sent] as const)
        })
      })

    // -- sending within a dialog --

    const sendAck = (session: Session, inviteSeq: number): Effect.Effect<void> =>
      Effect.gen(function* () {
        const known = session.acks.get(inviteSeq)
        if (known !== undefined) {
          yield* Effect.ignore(tl.sendStateless(known[0], known[1]))
          return
        }
        // §13.2.2.4: the ACK is built like any in-dialog request, with the INVITE's CSeq number
        const { request, next } = Dialog.request(session.dialog.data, "ACK", { seq: inviteSeq, headers: product })
        const destination = yield* Effect.option(locate(next))
        if (destination._tag === "None") return
        const stamped = stamp(request, destination.value)
        if (stamped instanceof NoRoute) return
        session.acks.set(inviteSeq, [stamped, destination.value])
        yield* Effect.ignore(tl.sendStateless(stamped, destination.value))
      })

    const endSession = (session: Session, reason: string): void => {
      if (session.fsm !== undefined) {
        fsmReport(session.fsm.id, session.fsm.direction, fsmParts(session.dialog.data), "terminated", {
          event: reason === "local BYE" ? "local-bye" : reason === "remote BYE" ? "remote-bye" : "error",
        })
        session.fsm = undefined
      }
      session.dialog.send({ type: "terminate", reason })
      table.remove(session.dialog)
      sessions.delete(session.dialog.key)
      Deferred.doneUnsafe(session.ended, Effect.succeed(reason))
    }

    const inDialog = (
      session: Session,
      method: string,
      body?: Uint8Array,
      contentType?: string,
    ): Effect.Effect<SipResponse, UacError> =>
      Effect.gen(function* () {
        const d = session.dialog
        d.send({ type: "sendRequest", method })
        const seq = d.data.localSeq!
        const protocol = (yield* Effect.option(locate(d.data.remoteTarget))).pipe((o) =>
          o._tag === "Some" ? o.value.protocol : undefined,
        )
        const { request, next } = Dialog.request(d.data, method, {
          seq,
          contact: contactAddr(protocol),
          body,
          contentType,
          headers: product,
        })
        const [response] = yield* transact(request, next)
        // §12.2.1.2: 481 or 408 end the dialog
        if (response.status === 481 || response.status === 408) endSession(session, `${response.status} to ${method}`)
        if (method === "INVITE" && response.status >= 200 && response.status < 300) {
          d.send({ type: "refreshed", response })
          session.remoteBody = response.body
          yield* sendAck(session, seq)
        }
        if (response.status >= 300)
          return yield* new RequestFailed({ status: response.status, reason: response.reason, response })
        return response
      })

    const bye = (session: Session): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (session.byeSent || session.dialog.state === "Terminated") return
        session.byeSent = true
        const d = session.dialog
        d.send({ type: "sendRequest", method: "BYE" })
        const { request, next } = Dialog.request(d.data, "BYE", { seq: d.data.localSeq!, headers: product })
        // §15.1.1: the session is over once the BYE goes to its transaction; its answer is not awaited
        endSession(session, "local BYE")
        yield* Effect.sync(() => run(Effect.ignore(transact(request, next))))
      })

    const callHandle = (session: Session): Call => ({
      id: session.dialog.data.id,
      remoteBody: () => session.remoteBody,
      state: () => session.dialog.state,
      bye: bye(session),
      reinvite: (offer, contentType = "application/sdp") => {
        session.localBody = offer
        session.localContentType = contentType
        return inDialog(session, "INVITE", offer, contentType)
      },
      request: (method, body, contentType) => inDialog(session, method, body, contentType),
      ended: Deferred.await(session.ended),
    })

    const newSession = (dialog: DialogRunner, role: "UAC" | "UAS", localBody: Uint8Array, contentType: string) =>
      Effect.map(Deferred.make<string>(), (ended): Session => {
        const s: Session = {
          dialog,
          role,
          remoteBody: new Uint8Array(0),
          localBody,
          localContentType: contentType,
          acks: new Map(),
          acked: role === "UAC",
          ended,
          byeSent: false,
        }
        table.add(dialog)
        sessions.set(dialog.key, s)
        return s
      })

    // -- UAC: INVITE (§13.2) --

    const call = (target: string, offer: Uint8Array, contentType = "application/sdp") =>
      Effect.gen(function* () {
        const uri = yield* parseUri(target)
        const callId = newCallId(aorSip.host)
        const tag = newTag()
        let session: Session | undefined
        // RFC 4235 §3.7.1 / §4.1.1: one FSM from the INVITE on, one more per extra remote tag
        const fsmIds = new Map<string, string>()
        const fsmIdFor = (remoteTag: string): string => {
          let id = fsmIds.get(remoteTag)
          if (id === undefined) fsmIds.set(remoteTag, (id = fsmIds.size === 0 ? tag : `${tag}-${fsmIds.size}`))
          return id
        }
        const half = (remoteTag?: string): FsmParts => ({ callId, localTag: tag, remoteTag, local: aor, remote: uri })
        let proceeding = false
        const confirmedFsm = new Set<string>()
        // a 2xx confirms its dialog: a session, and the dialog's initiator FSM confirmed
        const confirmedSession = (dialog: DialogRunner) =>
          Effect.map(newSession(dialog, "UAC", offer, contentType), (s) => {
            s.fsm = { id: fsmIdFor(dialog.data.id.remoteTag), direction: "initiator" }
            confirmedFsm.add(s.fsm.id)
            fsmReport(s.fsm.id, "initiator", fsmParts(dialog.data), "confirmed")
            return s
          })
        fsmReport(tag, "initiator", half(), "trying")
        yield* uacLoop(uri, 1, "INVITE", ({ uri, seq, auth }) =>
          Effect.gen(function* () {
            const next = outOfDialogNext(uri)
            const destination = yield* locate(next)
            const invite = Message.request({
              method: "INVITE",
              uri,
              headers: [
                ...outOfDialogHeaders({ displayName: undefined, uri, params: [] }, tag, callId, seq, "INVITE"),
                Header.make(Headers.Contact, { _tag: "Contact", ...contactAddr(destination.protocol) }),
                { name: "Allow", value: caps.allow.join(", ") },
                ...auth,
                ...product,
                { name: "Content-Type", value: contentType },
              ],
              body: offer,
            })
            const stamped = stamp(invite, destination)
            if (stamped instanceof NoRoute) return yield* stamped
            const forks = new Forking.ForkSet(stamped)
            const extras: Array<Session> = []
            let provisional = false
            let cancelWanted = false
            let clientTx: ClientTransaction | undefined
            const cancel = () => {
              if (clientTx === undefined) return
              const c = Messages.cancelFor(clientTx.request)
              tl.sendRequest(c, clientTx.destination, { onResponse: () => {} })
            }
            const final = yield* Effect.callback<SipResponse, NoRoute | RequestTimeout>((resume) => {
              let done = false
              const finish = (e: Effect.Effect<SipResponse, NoRoute | RequestTimeout>) => {
                if (!done) resume(e)
                done = true
              }
              const started = tl.sendRequest(stamped, destination, {
                onResponse: (r, tx) => {
                  clientTx = tx
                  if (r.status < 200) {
                    const remoteTag = Message.toTag(r)
                    if (remoteTag === undefined) {
                      if (!proceeding && fsmIds.size === 0) fsmReport(tag, "initiator", half(), "proceeding")
                      proceeding = true
                    } else if (!fsmIds.has(remoteTag))
                      fsmReport(fsmIdFor(remoteTag), "initiator", half(remoteTag), "early")
                    provisional = true
                    if (cancelWanted) cancel() // §9.1: CANCEL waits for a provisional
                    forks.onResponse(r)
                    return
                  }
                  const o = forks.onResponse(r)
                  switch (o._tag) {
                    case "Confirmed": {
                      if (session === undefined) {
                        run(
                          Effect.gen(function* () {
                            const s = yield* confirmedSession(o.dialog)
                            s.remoteBody = r.body
                            session = s
                            yield* sendAck(s, seq)
                            if (cancelWanted) yield* bye(s)
                            finish(Effect.succeed(r))
                          }),
                        )
                      } else run(sendAck(session, seq))
                      return
                    }
                    case "Extra": {
                      // §13.2.2.4: ACK every 2xx; a second dialog is ended with BYE
                      run(
                        Effect.gen(function* () {
                          let s = extras.find((x) => x.dialog === o.dialog)
                          if (s === undefined) {
                            s = yield* confirmedSession(o.dialog)
                            extras.push(s)
                          }
                          yield* sendAck(s, seq)
                          if (o.bye) yield* bye(s)
                        }),
                      )
                      return
                    }
                    case "Failed":
                      finish(Effect.succeed(r))
                      return
                    default:
                      finish(Effect.succeed(r))
                  }
                },
                onTimeout: () => finish(Effect.fail(new RequestTimeout({ method: "INVITE" }))),
                onTransportError: (e) => finish(Effect.fail(new NoRoute({ reason: e.message, cause: e }))),
                onTerminated: () => {
                  forks.end("INVITE transaction over")
                },
              })
              if (Result.isFailure(started)) finish(Effect.fail(new NoRoute({ reason: started.failure.reason })))
              else clientTx = started.success
              // interruption: CANCEL the pending INVITE (§9.1)
              return Effect.sync(() => {
                cancelWanted = true
                if (provisional) cancel()
              })
            })
            return [final, stamped] as const
          }),
        ).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              // §3.7.1: FSMs that did not reach confirmed end with the INVITE: 487 or our CANCEL is
              // "cancelled", any other failure "rejected" with the final response's code
              const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
              const failure = error?._tag === "Some" ? error.value : undefined
              const code = failure?._tag === "RequestFailed" ? failure.status : undefined
              const cancelled = code === 487 || (Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause))
              const event = Exit.isSuccess(exit) ? undefined : cancelled ? "cancelled" : "rejected"
              const open = fsmIds.size === 0 ? [["", tag] as const] : [...fsmIds.entries()]
              for (const [remoteTag, id] of open)
                if (!confirmedFsm.has(id))
                  fsmReport(id, "initiator", half(remoteTag === "" ? undefined : remoteTag), "terminated", {
                    event,
                    code,
                  })
            }),
          ),
        )
        const s = session!
        yield* Effect.addFinalizer(() => bye(s))
        return callHandle(s)
      })

    // -- UAS --

    const respond = (tx: ServerTransaction, response: SipResponse): void => {
      const withProduct = product.length > 0 ? { ...response, headers: [...response.headers, ...product] } : response
      tx.respond(withProduct)
    }

    /** §13.3.1.4: 2xx retransmitted at T1, 2T1, 4T1… capped at T2 until ACK; BYE after 64·T1. */
    const retransmit2xx = (session: Session, tx: ServerTransaction, ok: SipResponse): Effect.Effect<void> =>
      Effect.gen(function* () {
        let interval = t1
        let elapsed = 0
        while (!session.acked && session.dialog.state !== "Terminated") {
          if (elapsed >= 64 * t1) {
            // §13.3.1.4: no ACK: the session ends with a BYE
            yield* bye(session)
            return
          }
          const wait = Math.min(interval, 64 * t1 - elapsed)
          yield* Effect.sleep(wait)
          elapsed += wait
          if (session.acked || (session.dialog.state as CallState) === "Terminated") return
          if (elapsed >= 64 * t1) continue
          if (!tx.respond(ok)) yield* Effect.ignore(tl.sendStateless(ok, tx.destination))
          interval = Math.min(2 * interval, t2)
        }
      })

    /** §13.3.1.4, §14.2: a 2xx to an INVITE with our Contact and session description, sent until ACKed. */
    const answerInvite = (tx: ServerTransaction, session: Session, toTag?: string): void => {
      const contact = Header.make(Headers.Contact, { _tag: "Contact", ...contactAddr(tx.source.protocol) })
      const ok = Message.response(tx.request, 200, undefined, {
        ...(toTag === undefined ? {} : { toTag }),
        headers: [contact, { name: "Content-Type", value: session.localContentType }, ...product],
        body: session.localBody,
      })
      tx.respond(ok)
      run(retransmit2xx(session, tx, ok))
    }

    const incomingCall = (tx: ServerTransaction): Effect.Effect<IncomingCall> =>
      Effect.gen(function* () {
        const request = tx.request
        const tag = newTag()
        const cancelled = yield* Deferred.make<void>()
        let answered = false
        const protocol = tx.source.protocol
        const contactHeader = Header.make(Headers.Contact, { _tag: "Contact", ...contactAddr(protocol) })
        // RFC 4235 §3.7.1: the UAS's FSM starts in trying when the INVITE arrives
        const from = Message.from(request)
        const parts: FsmParts = {
          callId: Message.callId(request) ?? "",
          localTag: tag,
          remoteTag: from === undefined ? undefined : (Message.param(from.params, "tag") as string | undefined),
          local: Message.to(request)?.uri ?? aor,
          remote: from?.uri ?? aor,
        }
        let early = false
        const fsmEnd = (status: number) =>
          fsmReport(tag, "recipient", parts, "terminated", {
            event: status === 487 ? "cancelled" : "rejected",
            code: status,
          })
        fsmReport(tag, "recipient", parts, "trying")
        tx.listen({
          onTerminated: () => merges.done(request),
        })
        const ic: IncomingCall = {
          request,
          offer: request.body,
          ring: Effect.sync(() => {
            if (answered) return
            respond(tx, Message.response(request, 180, undefined, { toTag: tag, headers: [contactHeader] }))
            if (!early) fsmReport(tag, "recipient", parts, "early")
            early = true
          }),
          accept: (answer, contentType = "application/sdp") =>
            Effect.gen(function* () {
              answered = true
              const data = Dialog.uas(request, tag)
              if (data instanceof Dialog.DialogError) {
                respond(tx, Message.response(request, 400, data.reason))
                return yield* Effect.die(data)
              }
              const dialog = new DialogRunner({ dialog: data, confirmed: true })
              const session = yield* newSession(dialog, "UAS", answer, contentType)
              session.remoteBody = request.body
              session.fsm = { id: tag, direction: "recipient" }
              fsmReport(tag, "recipient", fsmParts(data), "confirmed")
              answerInvite(tx, session, tag)
              yield* Effect.addFinalizer(() => bye(session))
              return callHandle(session)
            }),
          reject: (status = 486, reason) =>
            Effect.sync(() => {
              answered = true
              respond(tx, Message.response(request, status, reason, { toTag: tag }))
              fsmEnd(status)
            }),
          redirect: (contacts, status = 302) =>
            Effect.sync(() => {
              answered = true
              respond(
                tx,
                Message.response(request, status, undefined, {
                  toTag: tag,
                  headers: contacts.map((c) => ({ name: "Contact", value: `<${c}>` })),
                }),
              )
              fsmEnd(status)
            }),
          cancelled: Deferred.await(cancelled),
        }
        cancels.set(tx.id, () => {
          if (answered) return false
          answered = true
          respond(tx, Message.response(request, 487, undefined, { toTag: tag }))
          fsmEnd(487)
          Deferred.doneUnsafe(cancelled, Effect.void)
          return true
        })
        return ic
      })

    const cancels = new Map<string, () => boolean>()

    const inDialogRequest = (tx: ServerTransaction, dialog: DialogRunner): void => {
      const request = tx.request
      const session = sessions.get(dialog.key)
      const actions = dialog.send({ type: "receiveRequest", request })
      const reject = actions.find((a) => a.type === "rejectRequest")
      if (reject !== undefined && reject.type === "rejectRequest") {
        respond(tx, Message.response(request, reject.params.status, reject.params.reason))
        return
      }
      switch (request.method) {
        case "BYE":
          // §15.1.2: 200, the session is over
          respond(tx, Message.response(request, 200))
          if (session !== undefined) endSession(session, "remote BYE")
          else table.remove(dialog)
          return
        case "INVITE": {
          // §14.2: a re-INVITE is answered with our current session description
          if (session === undefined) {
            respond(tx, Message.response(request, 481))
            return
          }
          session.remoteBody = request.body
          session.acked = false
          answerInvite(tx, session)
          return
        }
        default:
          if (!answeredAnywhere(tx)) respond(tx, Message.response(request, 200))
      }
    }

    /**
     * Requests answered alike in a dialog and out of one: MESSAGE is handed to the application
     * and answered 200 (RFC 3428 §7), OPTIONS with our capabilities (§11.2). False for others.
     */
    const answeredAnywhere = (tx: ServerTransaction): boolean => {
      const request = tx.request
      switch (request.method) {
        case "MESSAGE":
          Queue.offerUnsafe(incomingMessages, {
            request,
            from: Message.from(request),
            contentType: Message.contentType(request),
            body: request.body,
            text: dec.decode(request.body),
          })
          respond(tx, Message.response(request, 200))
          return true
        case "OPTIONS":
          respond(tx, Uas.optionsResponse(request, caps))
          return true
        default:
          return false
      }
    }

    const onRequest = (tx: ServerTransaction): void => {
      if (config.requests?.(tx) === true) return
      const request = tx.request
      if (request.method === "CANCEL") {
        // §9.2: 200 to the CANCEL, 487 to the INVITE it names
        if (!tx.cancelMatched) {
          respond(tx, Message.response(request, 481))
          return
        }
        respond(tx, Message.response(request, 200))
        const target = tx.cancels
        if (target === undefined) return // answered already: the CANCEL has no effect
        cancels.get(target.id)?.()
        cancels.delete(target.id)
        return
      }
      const rejected = Uas.check(request, caps)
      if (rejected !== undefined) {
        respond(tx, rejected)
        return
      }
      const match = table.match(request)
      if (match._tag === "NoDialog") {
        respond(tx, match.response)
        return
      }
      if (match._tag === "Dialog") {
        inDialogRequest(tx, match.dialog)
        return
      }
      const merged = merges.admit(request, tx.id)
      if (merged !== undefined) {
        respond(tx, merged)
        return
      }
      if (request.method !== "INVITE") tx.listen({ onTerminated: () => merges.done(request) })
      switch (request.method) {
        case "INVITE":
          run(Effect.flatMap(incomingCall(tx), (ic) => Queue.offer(incomingCalls, ic)))
          return
        case "BYE":
          respond(tx, Message.response(request, 481))
          return
        default:
          if (answeredAnywhere(tx)) return
          respond(
            tx,
            Message.response(request, 405, undefined, { headers: [{ name: "Allow", value: caps.allow.join(", ") }] }),
          )
      }
    }

    yield* tl.serve(onRequest)
    yield* tl.onStray((stray) => {
      if (stray._tag === "Ack") {
        // §13.3.1.4: the ACK for our 2xx stops its retransmission
        const key = Dialog.requestKey(stray.request)
        const session = key === undefined ? undefined : sessions.get(key)
        if (session !== undefined) {
          session.acked = true
          session.remoteBody = stray.request.body.length > 0 ? stray.request.body : session.remoteBody
        }
        return
      }
      // a 2xx retransmission after the INVITE transaction ended: ACK it again (§13.2.2.4)
      const r = stray.response
      const cseq = Message.cseq(r)
      if (r.status < 200 || r.status >= 300 || cseq?.method !== "INVITE") return
      const dialog = table.forResponse(r)
      const session = dialog === undefined ? undefined : sessions.get(dialog.key)
      if (session !== undefined) run(sendAck(session, cseq.seq))
    })

    // -- registration (§10.2) --

    const register = (options: RegisterOptions = {}) =>
      Effect.gen(function* () {
        const registrar = yield* parseUri(
          options.registrar ??
            config.registrar ??
            Uri.format(Uri.sip({ scheme: aorSip.scheme, host: aorSip.host, port: aorSip.port })),
        )
        const callId = newCallId(aorSip.host)
        const tag = newTag()
        let seq = 0
        let granted = options.expires ?? 3600
        let refreshes = 0
        let protocol: Protocol = "UDP"
        const destination = yield* locate(outOfDialogNext(registrar))
        protocol = destination.protocol
        const contact = Uri.format(contactUri(protocol))
        const auth = authState()
        const once = (expires: number) =>
          uacLoop(
            registrar,
            seq + 1,
            "REGISTER",
            ({ uri, seq: s, auth }) => {
              seq = s
              const request = Message.request({
                method: "REGISTER",
                uri,
                headers: [
                  ...outOfDialogHeaders(
                    { displayName: config.displayName, uri: aor, params: [] },
                    tag,
                    callId,
                    s,
                    "REGISTER",
                  ),
                  { name: "Contact", value: `<${contact}>` },
                  Header.make(Headers.Expires, expires),
                  ...auth,
                  ...product,
                ],
              })
              return Effect.map(transact(request, outOfDialogNext(uri)), ([r, sent]) => [r, sent] as const)
            },
            auth,
          )
        /** §10.2.8: 423 Interval Too Brief → retry with Min-Expires */
        const registerFor = (expires: number): Effect.Effect<number, UacError> =>
          Effect.catchTag(
            Effect.map(once(expires), (r) => grantedExpiry(r, contact, expires)),
            "RequestFailed",
            (e) => {
              const min = Message.first(e.response, Headers.MinExpires)
              return e.status === 423 && min !== undefined && min > expires ? registerFor(min) : Effect.fail(e)
            },
          )
        granted = yield* registerFor(granted)
        refreshes++
        // refresh ahead of expiry: half way for short registrations, 30 s ahead otherwise
        const refresh = Effect.gen(function* () {
          for (;;) {
            const lead = granted > 60 ? granted - 30 : granted / 2
            yield* Effect.sleep(Math.max(1, lead) * 1000)
            granted = yield* registerFor(granted)
            refreshes++
          }
        })
        yield* Effect.forkScoped(Effect.ignore(refresh))
        yield* Effect.addFinalizer(() => Effect.ignore(Effect.timeout(once(0), 64 * t1)))
        return { expires: () => granted, refreshes: () => refreshes, contact } satisfies Registration
      })

    return UserAgent.of({
      aor,
      contact: (protocol) => Uri.format(contactUri(protocol)),
      call,
      incoming: Stream.fromQueue(incomingCalls),
      messages: Stream.fromQueue(incomingMessages),
      message: (target, text, contentType = "text/plain") =>
        outOfDialog(
          "MESSAGE",
          target,
          () => [{ name: "Content-Type", value: contentType }],
          typeof text === "string" ? enc.encode(text) : text,
        ),
      options: (target) => outOfDialog("OPTIONS", target, () => [{ name: "Accept", value: caps.accept.join(", ") }]),
      register,
      stats: () => ({ dialogs: table.size, sessions: sessions.size }),
    })
  })

/** §10.2.4: the expiry of our binding in the 200 (Contact expires, else Expires, else what we asked). */
const grantedExpiry = (response: SipResponse, contact: string, asked: number): number => {
  for (const c of Message.all(response, Headers.Contact)) {
    if (c._tag !== "Contact" || Uri.format(c.uri) !== contact) continue
    const e = Message.param(c.params, "expires")
    if (typeof e === "string" && /^\d+$/.test(e)) return Number(e)
  }
  return Message.first(response, Headers.Expires) ?? asked
}

export const layer = (config: Config): Layer.Layer<UserAgent, InvalidTarget, TransactionLayer | Transport | Resolver> =>
  Layer.effect(UserAgent, make(config))
