/**
 * The subscriber side of RFC 6665 (§4.1) over the transaction layer. `subscribe` sends a
 * SUBSCRIBE and hands back its notifications as a Stream; each dialog it creates — by its
 * 2xx, by a NOTIFY that came first (§4.1.2.4), or by the NOTIFYs of several forks — is one
 * subscription with its own `SubscriberMachine`, refreshed before expiry and unsubscribed
 * (Expires: 0) when the Scope closes. `handle` takes NOTIFY server transactions; plug it in
 * front of a user agent (`UserAgent.Config.requests`) or a role dispatcher.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Dialog, DialogRunner } from "@sipfx/dialog"
import { Header, Headers, Message, type NameAddr, type SipRequest, type SipResponse, Uri } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import type { Protocol, Resolver, Transport } from "@sipfx/transport"
import { Effect, FiberSet, Queue, type Scope, Stream } from "effect"
import { InvalidTarget, type NoRoute, SubscribeFailed } from "./Errors.ts"
import { nameKey } from "./EventPackage.ts"
import * as Outbound from "./Outbound.ts"
import { effectTimers, MachineRunner, type NamedAction } from "./Runner.ts"
import * as SubscriberMachine from "./SubscriberMachine.ts"
import * as SubscriptionState from "./SubscriptionState.ts"

export interface Config {
  /** our address of record (From) */
  readonly aor: string
  readonly displayName?: string | undefined
  /** pre-loaded route for out-of-dialog requests (`sip:proxy.example.com;lr`) */
  readonly outboundProxy?: string | undefined
  readonly contactUser?: string | undefined
}

export interface Notification {
  /** the subscription (dialog) it belongs to: forks have different ones */
  readonly subscription: string
  readonly state: SubscriberMachine.NotifyState
  readonly reason: string | undefined
  readonly expires: number | undefined
  readonly contentType: string | undefined
  readonly body: Uint8Array
  readonly request: SipRequest
}

export interface SubscriptionInfo {
  readonly id: string
  readonly state: string
  readonly dialog: Dialog.DialogId
}

export interface Subscription {
  /** the final response to the SUBSCRIBE (a synthetic one when a NOTIFY came first and the 2xx never did) */
  readonly response: SipResponse
  readonly notifications: Stream.Stream<Notification>
  readonly subscriptions: () => ReadonlyArray<SubscriptionInfo>
  /** Expires: 0 in every dialog (§4.1.2.3); also done when the Scope closes */
  readonly unsubscribe: Effect.Effect<void>
}

export interface SubscribeOptions {
  readonly expires?: number | undefined
  readonly accept?: ReadonlyArray<string> | undefined
  /** Event `id` parameter (§8.2.1): several subscriptions of one package in a dialog */
  readonly id?: string | undefined
}

export interface SubscriberShape {
  readonly subscribe: (
    target: string,
    event: string,
    options?: SubscribeOptions,
  ) => Effect.Effect<Subscription, SubscribeFailed | NoRoute | InvalidTarget, Scope.Scope>
  /** takes a NOTIFY server transaction; false for any other request */
  readonly handle: (tx: TransactionLayer.ServerTransaction) => boolean
  /** live subscriptions */
  readonly size: () => number
}

interface Group {
  readonly request: SipRequest
  readonly event: string
  readonly eventId: string
  readonly eventHeader: Header.Header
  readonly expires: number
  readonly accept: ReadonlyArray<string>
  readonly localTag: string
  readonly notifications: Queue.Queue<Notification>
  readonly subs: Map<string, Sub>
  /** NOTIFYs of new forks are taken until Timer N after the final response (§4.1.2.4) */
  open: boolean
}

interface Sub {
  readonly id: string
  readonly group: Group
  readonly dialog: DialogRunner
  machine: MachineRunner<typeof SubscriberMachine.machine> | undefined
  /** the NOTIFY being processed, for `delivered` */
  current: { readonly request: SipRequest; readonly state: SubscriptionState.State } | undefined
}

const newTag = () => randomBytes(6).toString("hex")

export const make = (
  config: Config,
): Effect.Effect<
  SubscriberShape,
  InvalidTarget,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | Scope.Scope
> =>
  Effect.gen(function* () {
    const out = yield* Outbound.make
    const tl = yield* TransactionLayer.TransactionLayer
    const run = yield* FiberSet.makeRuntime<never>()
    const timers = effectTimers(run)
    const t1 = tl.timers.t1
    const parse = (input: string) => {
      const u = Uri.decode(input)
      return u._tag === "UriError" ? Effect.fail(new InvalidTarget({ input, reason: u.reason })) : Effect.succeed(u)
    }
    const aor = yield* parse(config.aor)
    const aorUser = aor._tag === "SipUri" ? aor.user : undefined
    const proxy = config.outboundProxy === undefined ? undefined : yield* parse(config.outboundProxy)
    const groups = new Map<string, Group>()
    let live = 0

    const contactOf = (protocol: Protocol): NameAddr => ({
      displayName: undefined,
      uri: out.contactUri(protocol, config.contactUser ?? aorUser),
      params: [],
    })
    const protocolOf = (request: SipRequest): Protocol => {
      const t = Message.topVia(request)?.transport.toUpperCase()
      return t === "TCP" || t === "TLS" || t === "WS" || t === "WSS" ? t : "UDP"
    }

    const perform = (sub: Sub) => (action: NamedAction) => {
      switch (action.type) {
        case "sendSubscribe": {
          const { expires } = action.params as SubscriberMachine.ActionParams["sendSubscribe"]
          sub.dialog.send({ type: "sendRequest", method: "SUBSCRIBE" })
          const { request, next } = Dialog.request(sub.dialog.data, "SUBSCRIBE", {
            seq: sub.dialog.data.localSeq!,
            contact: contactOf(protocolOf(sub.group.request)),
            headers: [
              sub.group.eventHeader,
              Header.make(Headers.Expires, expires),
              ...sub.group.accept.map((a) => Header.raw("Accept", a)),
            ],
          })
          run(
            Effect.match(out.request(request, next), {
              onFailure: () => sub.machine?.send({ type: "rejected", status: 503 }),
              onSuccess: (r) => {
                if (r.status >= 200 && r.status < 300) {
                  sub.dialog.send({ type: "refreshed", response: r })
                  sub.machine?.send({ type: "accepted", expires: Message.first(r, Headers.Expires) ?? expires })
                } else sub.machine?.send({ type: "rejected", status: r.status })
              },
            }),
          )
          return
        }
        case "delivered": {
          const current = sub.current
          if (current === undefined) return
          Queue.offerUnsafe(sub.group.notifications, {
            subscription: sub.id,
            state: current.state.state,
            reason: current.state.reason,
            expires: current.state.expires,
            contentType: Message.contentType(current.request),
            body: current.request.body,
            request: current.request,
          })
          return
        }
        case "terminated":
          sub.group.subs.delete(sub.dialog.data.id.remoteTag)
          sub.dialog.send({ type: "terminate", reason: "subscription ended" })
          live--
          return
      }
    }

    const addSub = (group: Group, data: Dialog.DialogData, byNotify: boolean): Sub => {
      const dialog = new DialogRunner({ dialog: data, confirmed: true })
      const sub: Sub = { id: dialog.key, group, dialog, machine: undefined, current: undefined }
      group.subs.set(data.id.remoteTag, sub)
      live++
      sub.machine = new MachineRunner(
        SubscriberMachine.machine,
        { t1, expires: group.expires, byNotify },
        timers,
        perform(sub),
      )
      sub.machine.start()
      return sub
    }

    const respond = (tx: TransactionLayer.ServerTransaction, status: number) => {
      tx.respond(Message.response(tx.request, status))
    }

    const handle = (tx: TransactionLayer.ServerTransaction): boolean => {
      const request = tx.request
      if (request.method !== "NOTIFY") return false
      const callId = Message.callId(request)
      const localTag = Message.toTag(request)
      const group =
        callId === undefined || localTag === undefined ? undefined : groups.get(`${callId}\u0000${localTag}`)
      if (group === undefined) {
        respond(tx, 481) // §4.1.3: no subscription
        return true
      }
      let ev: ReturnType<
        typeof Message.first<{ package: string; params: ReadonlyArray<readonly [string, string | null]> }>
      >
      try {
        ev = Message.first(request, Headers.Event)
      } catch {
        ev = undefined
      }
      const id = ev === undefined ? undefined : Message.param(ev.params, "id")
      if (
        ev === undefined ||
        nameKey(ev.package) !== nameKey(group.event) ||
        (typeof id === "string" ? id : "") !== group.eventId
      ) {
        respond(tx, 489) // §4.1.3: Event does not match the subscription
        return true
      }
      const state = SubscriptionState.fromRequest(request)
      if (state === undefined) {
        respond(tx, 400)
        return true
      }
      const remoteTag = Message.fromTag(request) ?? ""
      let sub = group.subs.get(remoteTag)
      if (sub === undefined) {
        if (!group.open) {
          respond(tx, 481)
          return true
        }
        // §4.1.2.4: a NOTIFY before the 2xx, or from another fork, creates the subscription
        const base = Dialog.uas(request, group.localTag)
        if (base instanceof Dialog.DialogError) {
          respond(tx, 400)
          return true
        }
        const seq = Message.cseq(group.request)?.seq ?? 1
        const data: Dialog.DialogData = {
          ...base,
          role: "UAC",
          localSeq: seq,
          localParty: Message.from(group.request) ?? base.localParty,
        }
        sub = addSub(group, data, true)
      } else {
        for (const a of sub.dialog.send({ type: "receiveRequest", request }))
          if (a.type === "rejectRequest") {
            tx.respond(Message.response(request, a.params.status))
            return true
          }
      }
      respond(tx, 200)
      sub.current = { request, state }
      sub.machine?.send({ type: "notify", state: state.state, expires: state.expires, reason: state.reason })
      sub.current = undefined
      return true
    }

    const subscribe = (target: string, event: string, options: SubscribeOptions = {}) =>
      Effect.gen(function* () {
        const uri = yield* parse(target)
        const expires = options.expires ?? 3600
        const accept = options.accept ?? []
        const next = proxy ?? uri
        const destination = yield* out.locate(next)
        const localTag = newTag()
        const callId = `${randomUUID()}@${aor._tag === "SipUri" ? aor.host : "sipfx"}`
        const eventHeader = Header.raw("Event", options.id === undefined ? event : `${event};id=${options.id}`)
        const request = Message.request({
          method: "SUBSCRIBE",
          uri,
          headers: [
            ...(proxy === undefined
              ? []
              : [Header.make(Headers.Route, { displayName: undefined, uri: proxy, params: [] })]),
            Header.make(Headers.MaxForwards, 70),
            Header.make(Headers.From, { displayName: config.displayName, uri: aor, params: [["tag", localTag]] }),
            Header.make(Headers.To, { displayName: undefined, uri, params: [] }),
            Header.make(Headers.CallId, callId),
            Header.make(Headers.CSeq, { seq: 1, method: "SUBSCRIBE" }),
            Header.make(Headers.Contact, { _tag: "Contact", ...contactOf(destination.protocol) }),
            eventHeader,
            Header.make(Headers.Expires, expires),
            ...accept.map((a) => Header.raw("Accept", a)),
          ],
        })
        const group: Group = {
          request,
          event,
          eventId: options.id ?? "",
          eventHeader,
          expires,
          accept,
          localTag,
          notifications: yield* Queue.unbounded<Notification>(),
          subs: new Map(),
          open: true,
        }
        const key = `${callId}\u0000${localTag}`
        groups.set(key, group)
        const unsubscribe = Effect.sync(() => {
          for (const sub of [...group.subs.values()]) sub.machine?.send({ type: "unsubscribe" })
        })
        // closing the Scope unsubscribes and, after Timer N, forgets the group
        yield* Effect.addFinalizer(() =>
          Effect.andThen(
            unsubscribe,
            Effect.sync(() => {
              group.open = false
              run(
                Effect.andThen(
                  Effect.sleep(64 * t1),
                  Effect.sync(() => groups.delete(key)),
                ),
              )
            }),
          ),
        )
        const response = yield* Effect.callback<SipResponse, never>((resume) => {
          const ok = out.start(request, destination, {
            onResponse: (r) => {
              if (r.status >= 200) resume(Effect.succeed(r))
            },
            onTimeout: () => resume(Effect.succeed(Message.response(request, 408))),
            onTransportError: () => resume(Effect.succeed(Message.response(request, 503))),
          })
          if (!ok) resume(Effect.succeed(Message.response(request, 503)))
        })
        // §4.1.2.4: forks may still NOTIFY until Timer N
        run(
          Effect.andThen(
            Effect.sleep(64 * t1),
            Effect.sync(() => (group.open = false)),
          ),
        )
        if (response.status >= 300 || response.status < 200) {
          // a failure ends the subscription, unless a fork's NOTIFY already created one
          for (const sub of group.subs.values()) sub.machine?.send({ type: "rejected", status: response.status })
          if (group.subs.size === 0) return yield* new SubscribeFailed({ status: response.status, response })
        } else {
          const remoteTag = Message.toTag(response) ?? ""
          const granted = Message.first(response, Headers.Expires) ?? expires
          let sub = group.subs.get(remoteTag)
          if (sub === undefined) {
            const data = Dialog.uac(request, response)
            if (data instanceof Dialog.DialogError)
              return yield* new SubscribeFailed({ status: response.status, response })
            sub = addSub(group, data, false)
          }
          sub.machine?.send({ type: "accepted", expires: granted })
        }
        return {
          response,
          notifications: Stream.fromQueue(group.notifications),
          subscriptions: () =>
            [...group.subs.values()].map((s) => ({
              id: s.id,
              state: s.machine?.state ?? "",
              dialog: s.dialog.data.id,
            })),
          unsubscribe,
        } satisfies Subscription
      })

    return { subscribe, handle, size: () => live } satisfies SubscriberShape
  })
