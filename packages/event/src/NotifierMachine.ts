/**
 * One subscription at the notifier (RFC 6665 §4.2): `Pending` until authorised, `Active`,
 * `Terminated`. Every entry into a state sends a NOTIFY (§4.2.1.1, §4.2.1.2: a SUBSCRIBE
 * and each refresh are answered with one), a state change of the resource sends one while
 * active (§4.2.2), and the subscription ends when its duration runs out (reason `timeout`).
 * `Expires: 0` (a fetch or an unsubscribe) ends it at once with a final NOTIFY.
 * The NOTIFYs themselves are built and sent by the runner (`Notifier`).
 */
import { assign, setup } from "xstate"
import { performed, reportTerminated, type Terminated } from "./internal/machine.ts"

export interface Input {
  /** seconds granted */
  readonly expires: number
  /** what the authorisation policy decided for this watcher */
  readonly decision: "active" | "pending"
}

export type Event =
  /** a refreshing SUBSCRIBE (§4.2.1.2) with the granted duration; 0 unsubscribes */
  | { readonly type: "refresh"; readonly expires: number }
  /** the policy now allows the watcher (§4.2.1.3) */
  | { readonly type: "authorize" }
  /** the policy refuses the watcher (reason `rejected`) */
  | { readonly type: "reject" }
  /** the resource's state changed (§4.2.2) */
  | { readonly type: "stateChanged" }
  /** the notifier ends the subscription (reason `deactivated`, `noresource`, `giveup`, …) */
  | { readonly type: "terminate"; readonly reason: string }
  /** the NOTIFY failed with 481, 408 or a transport error (§4.2.2) */
  | { readonly type: "notifyFailed" }

export interface Context {
  readonly expires: number
  readonly reason: string
  readonly decision: "active" | "pending"
}

export interface ActionParams {
  /** send a NOTIFY with this Subscription-State (the runner computes the remaining expires) */
  readonly notify: { readonly state: "pending" | "active" | "terminated"; readonly reason?: string | undefined }
  readonly terminated: Terminated
  /** a subscription duration of `expires` seconds starts now (the runner keeps the time for `expires=`) */
  readonly durationStarted: { readonly expires: number }
}

// §4.2.1.1, §4.2.1.2: each entry into Pending or Active starts a duration and sends a NOTIFY
const entered = (state: "pending" | "active") =>
  [
    { type: "durationStarted", params: ({ context }: { readonly context: Context }) => ({ expires: context.expires }) },
    { type: "notify", params: { state } },
  ] as const
// the subscription ends with the reason `because` takes from the event (`timeout` by default)
const ends = { target: "Terminated", actions: "because" } as const

export const machine = setup({
  types: {
    input: {} as Input,
    context: {} as Context,
    events: {} as Event,
  },
  actions: {
    notify: performed<ActionParams["notify"]>(),
    terminated: performed<ActionParams["terminated"]>(),
    durationStarted: performed<ActionParams["durationStarted"]>(),
    grant: assign({
      expires: ({ context, event }) => (event.type === "refresh" ? event.expires : context.expires),
    }),
    because: assign({
      reason: ({ event }) =>
        event.type === "terminate" ? event.reason : event.type === "reject" ? "rejected" : "timeout",
    }),
  },
  guards: {
    isFetch: ({ context }) => context.expires === 0,
    unsubscribes: ({ event }) => event.type === "refresh" && event.expires === 0,
    startsActive: ({ context }) => context.decision === "active",
  },
  delays: {
    // RFC 6665 §4.2.1.1: the subscription lasts the granted Expires
    subscriptionDuration: ({ context }) => context.expires * 1000,
  },
}).createMachine({
  id: "Notifier",
  context: ({ input }) => ({ expires: input.expires, reason: "timeout", decision: input.decision }),
  initial: "Created",
  states: {
    Created: {
      always: [
        // §4.2.1.1 / §4.4.3: Expires 0 is a fetch: one NOTIFY with the state, then terminated
        { guard: "isFetch", target: "Terminated" },
        { guard: "startsActive", target: "Active" },
        { target: "Pending" },
      ],
    },
    Pending: {
      entry: entered("pending"),
      after: { subscriptionDuration: ends },
      on: {
        authorize: { target: "Active" },
        reject: ends,
        refresh: [
          { guard: "unsubscribes", ...ends },
          { target: "Pending", reenter: true, actions: "grant" },
        ],
        terminate: ends,
        notifyFailed: { target: "Gone" },
      },
    },
    Active: {
      entry: entered("active"),
      after: { subscriptionDuration: ends },
      on: {
        stateChanged: { actions: { type: "notify", params: { state: "active" } } },
        refresh: [
          { guard: "unsubscribes", ...ends },
          { target: "Active", reenter: true, actions: "grant" },
        ],
        reject: ends,
        terminate: ends,
        notifyFailed: { target: "Gone" },
      },
    },
    // §4.2.2: after a NOTIFY failed with 481/408/transport error, no further NOTIFY is sent
    Gone: {
      type: "final",
      entry: { type: "terminated", params: { reason: "giveup" } },
    },
    Terminated: {
      type: "final",
      entry: [
        // the final NOTIFY carries the reason (§4.1.3)
        {
          type: "notify",
          params: ({ context }) => ({ state: "terminated" as const, reason: context.reason }),
        },
        reportTerminated,
      ],
    },
  },
})
