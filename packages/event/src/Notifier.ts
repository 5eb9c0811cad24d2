/**
 * The notifier side of RFC 6665 (§4.2) over the transaction layer: answers SUBSCRIBE for the
 * registered event packages, keeps one dialog (§4.5, `@sipfx/dialog`) and one
 * `NotifierMachine` per subscription, and sends NOTIFY in that dialog whenever the machine
 * says so. A package's `state` is read when a NOTIFY is built; `changed(event, resource)`
 * tells every watcher of the resource (§4.2.2).
 */
import { randomBytes } from "node:crypto"
import { Dialog, DialogRunner } from "@sipfx/dialog"
import { Header, Headers, Message, type NameAddr, type SipRequest, Uri } from "@sipfx/message"
import type { TransactionLayer } from "@sipfx/transaction"
import type { Destination, Protocol, Resolver, Transport } from "@sipfx/transport"
import { Clock, Context, Effect, FiberSet, Layer, type Scope } from "effect"
import { Authorization } from "./Authorization.ts"
import { type AnyEventPackage, acceptable, nameKey } from "./EventPackage.ts"
import * as NotifierMachine from "./NotifierMachine.ts"
import * as Outbound from "./Outbound.ts"
import { effectTimers, MachineRunner, type NamedAction } from "./Runner.ts"
import * as SubscriptionState from "./SubscriptionState.ts"

export interface SubscriptionInfo {
  readonly id: string
  readonly event: string
  readonly resource: string
  readonly watcher: string
  /** the machine's state: Pending, Active, Terminated */
  readonly state: string
  readonly dialog: Dialog.DialogId
}

export interface NotifierShape {
  /** methods this role answers */
  readonly methods: ReadonlyArray<string>
  /** answers a SUBSCRIBE server transaction (new, refresh, fetch, unsubscribe) */
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
  /** the state of `resource` in package `event` may have changed: NOTIFY its watchers if the package says so */
  readonly changed: (event: string, resource: string) => void
  /** ends every subscription to `resource` with this reason (§4.1.3: deactivated, noresource, …) */
  readonly terminate: (event: string, resource: string, reason: string) => void
  /** a pending watcher becomes active (or is rejected) after a later policy decision */
  readonly authorize: (id: string, decision: "active" | "rejected") => void
  readonly subscriptions: () => ReadonlyArray<SubscriptionInfo>
  /** Allow-Events value */
  readonly events: ReadonlyArray<string>
}

export class Notifier extends Context.Service<Notifier, NotifierShape>()("@sipfx/event/Notifier") {}

interface Subscription {
  readonly id: string
  readonly pkg: AnyEventPackage
  readonly resource: string
  readonly watcher: string
  readonly event: Header.Header
  readonly protocol: Protocol
  readonly dialog: DialogRunner
  machine: MachineRunner<typeof NotifierMachine.machine> | undefined
  startedAt: number
  destination: Destination | undefined
  resolving: boolean
  readonly outbox: Array<SipRequest>
  /** bodies sent so far (RFC 4235 §4.1 versions) */
  bodies: number
}

const newTag = () => randomBytes(6).toString("hex")

export const make = (options: {
  readonly packages: ReadonlyArray<AnyEventPackage>
}): Effect.Effect<
  NotifierShape,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | Scope.Scope
> =>
  Effect.gen(function* () {
    const out = yield* Outbound.make
    const run = yield* FiberSet.makeRuntime<never>()
    const timers = effectTimers(run)
    const clock = yield* Clock.Clock
    const policy = yield* Authorization
    const packages = new Map(options.packages.map((p) => [nameKey(p.name), p]))
    const events = options.packages.map((p) => p.name)
    const allowEvents = Header.raw("Allow-Events", events.join(", "))
    const byId = new Map<string, Subscription>()
    const byResource = new Map<string, Set<Subscription>>()
    const lastState = new Map<string, unknown>()
    const resourceKey = (pkg: AnyEventPackage, resource: string) => `${nameKey(pkg.name)}\u0000${resource}`

    const answer = (
      tx: TransactionLayer.ServerTransaction,
      status: number,
      headers: ReadonlyArray<Header.Header> = [],
      toTag?: string,
    ): undefined => {
      const tag = toTag ?? (Message.toTag(tx.request) === undefined ? newTag() : undefined)
      tx.respond(
        Message.response(tx.request, status, undefined, tag === undefined ? { headers } : { toTag: tag, headers }),
      )
    }

    const contactOf = (protocol: Protocol): NameAddr => ({
      displayName: undefined,
      uri: out.contactUri(protocol),
      params: [],
    })

    const remove = (sub: Subscription) => {
      byId.delete(sub.id)
      const key = resourceKey(sub.pkg, sub.resource)
      const set = byResource.get(key)
      set?.delete(sub)
      if (set !== undefined && set.size === 0) byResource.delete(key)
      sub.dialog.send({ type: "terminate", reason: "subscription ended" })
    }

    const flush = (sub: Subscription) => {
      const destination = sub.destination
      if (destination === undefined) return
      for (let r = sub.outbox.shift(); r !== undefined; r = sub.outbox.shift()) {
        const ok = out.start(r, destination, {
          // §4.2.2: 481 or a timeout/transport error means the subscriber is gone
          onResponse: (response) => {
            if (response.status === 481 || response.status === 408) sub.machine?.send({ type: "notifyFailed" })
          },
          onTimeout: () => sub.machine?.send({ type: "notifyFailed" }),
          onTransportError: () => sub.machine?.send({ type: "notifyFailed" }),
        })
        if (!ok) sub.machine?.send({ type: "notifyFailed" })
      }
    }

    const enqueue = (sub: Subscription, request: SipRequest, next: Uri.Uri) => {
      sub.outbox.push(request)
      if (sub.destination !== undefined) return flush(sub)
      if (sub.resolving) return
      sub.resolving = true
      run(
        Effect.match(out.locate(next), {
          onFailure: () => {
            sub.outbox.length = 0
            sub.machine?.send({ type: "notifyFailed" })
          },
          onSuccess: (d) => {
            sub.destination = d
            sub.resolving = false
            flush(sub)
          },
        }),
      )
    }

    const sendNotify = (sub: Subscription, params: NotifierMachine.ActionParams["notify"]) => {
      const ctx = sub.machine?.context
      const granted = ctx?.expires ?? 0
      const elapsed = Math.floor((clock.currentTimeMillisUnsafe() - sub.startedAt) / 1000)
      const state = sub.pkg.state(sub.resource)
      // a body only once the watcher is allowed to see it (RFC 3856 §6.6.2)
      const withBody =
        params.state === "active" ||
        (params.state === "terminated" && params.reason === "timeout" && ctx?.decision === "active")
      sub.dialog.send({ type: "sendRequest", method: "NOTIFY" })
      const { request, next } = Dialog.request(sub.dialog.data, "NOTIFY", {
        seq: sub.dialog.data.localSeq!,
        contact: contactOf(sub.protocol),
        headers: [
          sub.event,
          SubscriptionState.header({
            state: params.state,
            reason: params.reason,
            expires: params.state === "terminated" ? undefined : Math.max(0, granted - elapsed),
          }),
        ],
        body: withBody ? sub.pkg.body(state, sub.resource, { version: sub.bodies++ }) : undefined,
        contentType: sub.pkg.contentType,
      })
      enqueue(sub, request, next)
    }

    const perform = (sub: Subscription) => (action: NamedAction) => {
      switch (action.type) {
        case "durationStarted":
          sub.startedAt = clock.currentTimeMillisUnsafe()
          return
        case "notify":
          sendNotify(sub, action.params as NotifierMachine.ActionParams["notify"])
          return
        case "terminated":
          remove(sub)
          return
      }
    }

    const eventOf = (request: SipRequest) => {
      try {
        return Message.first(request, Headers.Event)
      } catch {
        return undefined
      }
    }
    const eventId = (request: SipRequest): string => {
      const ev = eventOf(request)
      const id = ev === undefined ? undefined : Message.param(ev.params, "id")
      return typeof id === "string" ? id : ""
    }

    const handle = (tx: TransactionLayer.ServerTransaction): undefined => {
      const request = tx.request
      const ev = eventOf(request)
      // RFC 6665 §8.2.1: exactly one Event header
      if (ev === undefined) return answer(tx, 400, [allowEvents])
      const pkg = packages.get(nameKey(ev.package))
      // §4.2.1.1 / §8.3.2: an unknown package is answered 489 with Allow-Events
      if (pkg === undefined) return answer(tx, 489, [allowEvents])
      if (
        !acceptable(
          pkg,
          Message.headerValues(request, "Accept").flatMap((v) => v.split(",")),
        )
      )
        return answer(tx, 406, [Header.raw("Accept", pkg.accept.join(", "))])
      let expires = Message.first(request, Headers.Expires) ?? pkg.defaultExpires
      // §4.2.1.1: too short → 423 with Min-Expires; too long → shortened
      if (expires > 0 && expires < pkg.minExpires)
        return answer(tx, 423, [Header.make(Headers.MinExpires, pkg.minExpires)])
      expires = Math.min(expires, pkg.maxExpires)
      const id = `${Dialog.requestKey(request) ?? ""}\u0000${nameKey(pkg.name)}\u0000${eventId(request)}`

      if (Message.toTag(request) !== undefined) {
        // §4.2.1.2: a refresh (or an unsubscribe) within the subscription's dialog
        const sub = byId.get(id)
        if (sub === undefined || sub.machine === undefined || sub.machine.done) return answer(tx, 481)
        for (const a of sub.dialog.send({ type: "receiveRequest", request }))
          if (a.type === "rejectRequest") return answer(tx, a.params.status)
        answer(tx, 200, [
          Header.make(Headers.Expires, expires),
          Header.make(Headers.Contact, { _tag: "Contact", ...contactOf(tx.source.protocol) }),
        ])
        sub.machine.send({ type: "refresh", expires })
        return
      }

      const resource = pkg.resourceOf(request)
      if (resource === undefined) return answer(tx, 404)
      const from = Message.from(request)
      if (from === undefined) return answer(tx, 400)
      const localTag = newTag()
      const data = Dialog.uas(request, localTag)
      if (data instanceof Dialog.DialogError) return answer(tx, 400, [], localTag)
      const watcher = Uri.format(from.uri)
      run(
        Effect.map(policy.decide({ watcher, resource, event: pkg.name }), (decision) => {
          if (decision === "rejected") return answer(tx, 403, [], localTag)
          const dialog = new DialogRunner({ dialog: data, confirmed: true })
          const sub: Subscription = {
            id: `${dialog.key}\u0000${nameKey(pkg.name)}\u0000${eventId(request)}`,
            pkg,
            resource,
            watcher,
            event: Header.make(Headers.Event, ev),
            protocol: tx.source.protocol,
            dialog,
            machine: undefined,
            startedAt: clock.currentTimeMillisUnsafe(),
            destination: undefined,
            resolving: false,
            outbox: [],
            bodies: 0,
          }
          byId.set(sub.id, sub)
          const key = resourceKey(pkg, resource)
          let set = byResource.get(key)
          if (set === undefined) byResource.set(key, (set = new Set()))
          set.add(sub)
          if (!lastState.has(key)) lastState.set(key, pkg.state(resource))
          // §4.2.1.1: 200 (202 is deprecated), then the first NOTIFY at once
          answer(
            tx,
            200,
            [
              Header.make(Headers.Expires, expires),
              Header.make(Headers.Contact, { _tag: "Contact", ...contactOf(tx.source.protocol) }),
            ],
            localTag,
          )
          sub.machine = new MachineRunner(NotifierMachine.machine, { expires, decision }, timers, perform(sub))
          sub.machine.start()
        }),
      )
    }

    const forResource = (event: string, resource: string) => {
      const pkg = packages.get(nameKey(event))
      if (pkg === undefined) return undefined
      return { pkg, key: resourceKey(pkg, resource) }
    }

    return {
      methods: ["SUBSCRIBE"],
      handle,
      events,
      changed: (event, resource) => {
        const found = forResource(event, resource)
        if (found === undefined) return
        const next = found.pkg.state(resource)
        const previous = lastState.get(found.key)
        lastState.set(found.key, next)
        if (!found.pkg.changed(previous, next)) return
        for (const sub of [...(byResource.get(found.key) ?? [])]) sub.machine?.send({ type: "stateChanged" })
      },
      terminate: (event, resource, reason) => {
        const found = forResource(event, resource)
        if (found === undefined) return
        for (const sub of [...(byResource.get(found.key) ?? [])]) sub.machine?.send({ type: "terminate", reason })
      },
      authorize: (id, decision) => {
        byId.get(id)?.machine?.send({ type: decision === "active" ? "authorize" : "reject" })
      },
      subscriptions: () =>
        [...byId.values()].map((s) => ({
          id: s.id,
          event: s.pkg.name,
          resource: s.resource,
          watcher: s.watcher,
          state: s.machine?.state ?? "Created",
          dialog: s.dialog.data.id,
        })),
    } satisfies NotifierShape
  })

export const layer = (options: {
  readonly packages: ReadonlyArray<AnyEventPackage>
}): Layer.Layer<Notifier, never, TransactionLayer.TransactionLayer | Transport | Resolver.Resolver> =>
  Layer.effect(
    Notifier,
    Effect.map(make(options), (s) => Notifier.of(s)),
  )
