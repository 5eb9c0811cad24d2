/**
 * One subscription at the subscriber (RFC 6665 §4.1): created when the SUBSCRIBE goes out,
 * or by a NOTIFY that arrives first (§4.1.2.4) or comes from another fork. `Subscribing`
 * waits for the final response, `NotifyWait` for the first NOTIFY (Timer N = 64·T1,
 * §4.1.2.4), then `Pending`/`Active` follow the notifier's Subscription-State. The
 * subscription is refreshed ahead of its expiry (§4.1.2.2), and ends at expiry, on a NOTIFY
 * saying `terminated`, on Timer N, or after an unsubscribe (§4.1.2.3). Requests are sent by
 * the runner (`Subscriber`).
 */
import { assign, setup } from "xstate"
import { performed, reportTerminated, type Terminated } from "./internal/machine.ts"

export interface Input {
  /** T1 in ms, for Timer N */
  readonly t1: number
  /** the duration asked for (seconds); refreshes ask for it again */
  readonly expires: number
  /** created by a NOTIFY (forked or before the 2xx) rather than by sending the SUBSCRIBE */
  readonly byNotify?: boolean | undefined
}

export type NotifyState = "pending" | "active" | "terminated"

export type Event =
  /** a 2xx to the SUBSCRIBE (or its refresh) granting `expires` seconds (§4.1.2.1) */
  | { readonly type: "accepted"; readonly expires: number }
  /** a non-2xx final response: to the initial SUBSCRIBE it ends the subscription (§4.1.2.1); to a refresh, 481 and 408 do (§4.1.2.2) */
  | { readonly type: "rejected"; readonly status: number }
  /** a NOTIFY in this subscription (§4.1.3) */
  | {
      readonly type: "notify"
      readonly state: NotifyState
      readonly expires?: number | undefined
      readonly reason?: string | undefined
    }
  /** the application ends it: SUBSCRIBE with Expires: 0 (§4.1.2.3) */
  | { readonly type: "unsubscribe" }

export interface Context {
  readonly t1: number
  readonly asked: number
  /** the remaining duration last told by the notifier (seconds) */
  readonly expires: number
  readonly reason: string
  readonly byNotify: boolean
  /** the substate of the last NOTIFY */
  readonly substate: NotifyState
}

export interface ActionParams {
  /** send a refreshing SUBSCRIBE with this Expires (0: unsubscribe) */
  readonly sendSubscribe: { readonly expires: number }
  /** the subscription's state as the notifier last told it (pass the NOTIFY body up) */
  readonly delivered: { readonly state: NotifyState }
  readonly terminated: Terminated
}

/** §4.1.2.2: refresh ahead of expiry: half way for short subscriptions, a minute ahead otherwise. */
export const refreshLead = (expires: number): number => (expires > 120 ? expires - 60 : expires / 2)

// §4.1.3: a NOTIFY updates the context from its Subscription-State and is passed up
const deliver = (state: NotifyState) => ["fromNotify", { type: "delivered", params: { state } }] as const
const endedByNotify = { guard: "isTerminated", target: "Terminated", actions: deliver("terminated") } as const
const toActive = { guard: "isActive", target: "Active", actions: deliver("active") } as const
const toPending = { guard: "isPending", target: "Pending", actions: deliver("pending") } as const
// §4.1.2.4: the first NOTIFY creates the subscription in the state it reports
const firstNotify = [endedByNotify, toActive, { target: "Pending", actions: deliver("pending") }] as const

// §4.1.2.2: a subscription is refreshed ahead of its expiry, and ends at it
const lifetime = {
  refresh: { target: "Refreshing" },
  expiry: { target: "Terminated", actions: "becauseExpired" },
} as const
const unsubscribing = { target: "Unsubscribing", actions: "becauseUnsubscribed" } as const

export const machine = setup({
  types: {
    input: {} as Input,
    context: {} as Context,
    events: {} as Event,
  },
  actions: {
    sendSubscribe: performed<ActionParams["sendSubscribe"]>(),
    delivered: performed<ActionParams["delivered"]>(),
    terminated: performed<ActionParams["terminated"]>(),
    fromResponse: assign({
      expires: ({ context, event }) => (event.type === "accepted" ? event.expires : context.expires),
    }),
    fromNotify: assign({
      expires: ({ context, event }) =>
        event.type === "notify" && event.expires !== undefined
          ? Math.min(event.expires, context.expires)
          : context.expires,
      reason: ({ context, event }) => (event.type === "notify" ? (event.reason ?? context.reason) : context.reason),
      substate: ({ context, event }) => (event.type === "notify" ? event.state : context.substate),
    }),
    becauseRejected: assign({ reason: ({ event }) => (event.type === "rejected" ? `rejected ${event.status}` : "") }),
    becauseTimerN: assign({ reason: () => "timer N" }),
    becauseExpired: assign({ reason: () => "timeout" }),
    becauseUnsubscribed: assign({ reason: () => "unsubscribed" }),
  },
  guards: {
    isActive: ({ event }) => event.type === "notify" && event.state === "active",
    isPending: ({ event }) => event.type === "notify" && event.state === "pending",
    isTerminated: ({ event }) => event.type === "notify" && event.state === "terminated",
    byNotify: ({ context }) => context.byNotify,
    wasPending: ({ context }) => context.substate === "pending",
    // §4.1.2.2: a refresh failing with 481 or 408 ends the subscription; others leave it until expiry
    endsSubscription: ({ event }) => event.type === "rejected" && (event.status === 481 || event.status === 408),
  },
  delays: {
    timerN: ({ context }) => 64 * context.t1,
    refresh: ({ context }) => refreshLead(context.expires) * 1000,
    expiry: ({ context }) => context.expires * 1000,
    // entered at the refresh point: what is left of the duration
    remaining: ({ context }) => (context.expires - refreshLead(context.expires)) * 1000,
  },
}).createMachine({
  id: "Subscriber",
  context: ({ input }) => ({
    t1: input.t1,
    asked: input.expires,
    expires: input.expires,
    reason: "",
    byNotify: input.byNotify === true,
    substate: "pending",
  }),
  initial: "Created",
  states: {
    Created: {
      always: [{ guard: "byNotify", target: "NotifyWait" }, { target: "Subscribing" }],
    },
    Subscribing: {
      // the transaction layer reports Timer F as a 408 (`rejected`)
      on: {
        accepted: { target: "NotifyWait", actions: "fromResponse" },
        rejected: { target: "Terminated", actions: "becauseRejected" },
        // §4.1.2.4: a NOTIFY may arrive before the 2xx; it creates the subscription
        notify: firstNotify,
        unsubscribe: { target: "Terminated", actions: "becauseUnsubscribed" },
      },
    },
    NotifyWait: {
      after: { timerN: { target: "Terminated", actions: "becauseTimerN" } },
      on: {
        // the 2xx after a NOTIFY that came first, or after a fork's NOTIFY
        accepted: { actions: "fromResponse" },
        notify: firstNotify,
        unsubscribe: unsubscribing,
      },
    },
    Pending: {
      after: lifetime,
      on: {
        notify: [endedByNotify, toActive, { target: "Pending", reenter: true, actions: deliver("pending") }],
        accepted: { target: "Pending", reenter: true, actions: "fromResponse" },
        unsubscribe: unsubscribing,
      },
    },
    Active: {
      after: lifetime,
      on: {
        notify: [endedByNotify, toPending, { target: "Active", reenter: true, actions: deliver("active") }],
        accepted: { target: "Active", reenter: true, actions: "fromResponse" },
        unsubscribe: unsubscribing,
      },
    },
    // §4.1.2.2: a refreshing SUBSCRIBE is out; the subscription holds until its expiry
    Refreshing: {
      entry: { type: "sendSubscribe", params: ({ context }) => ({ expires: context.asked }) },
      after: { remaining: { target: "Terminated", actions: "becauseExpired" } },
      on: {
        accepted: [
          { guard: "wasPending", target: "Pending", actions: "fromResponse" },
          { target: "Active", actions: "fromResponse" },
        ],
        // other failures leave the subscription to its expiry
        rejected: { guard: "endsSubscription", target: "Terminated", actions: "becauseRejected" },
        notify: [
          endedByNotify,
          { actions: ["fromNotify", { type: "delivered", params: ({ event }) => ({ state: event.state }) }] },
        ],
        unsubscribe: unsubscribing,
      },
    },
    // §4.1.2.3: SUBSCRIBE with Expires: 0 sent; the notifier's final NOTIFY ends it (or Timer N)
    Unsubscribing: {
      entry: { type: "sendSubscribe", params: { expires: 0 } },
      after: { timerN: { target: "Terminated" } },
      on: {
        notify: [endedByNotify, { actions: { type: "delivered", params: ({ event }) => ({ state: event.state }) } }],
        rejected: { target: "Terminated" },
      },
    },
    Terminated: { type: "final", entry: reportTerminated },
  },
})
