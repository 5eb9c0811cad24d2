import { setup } from "xstate"
import * as Timers from "../Timers.ts"
import { context, effect, timers, types } from "./common.ts"

/**
 * INVITE server transaction, RFC 3261 §17.2.1 (Figure 7) as corrected by RFC 6026 §8.5–8.8:
 * a 2xx moves to Accepted (Timer L), which absorbs INVITE retransmissions and passes ACKs to
 * the TU; a transport error informs the TU and leaves the state unchanged.
 */
export type Event =
  | { readonly type: "request" }
  | { readonly type: "ack" }
  | { readonly type: "tu1xx" }
  | { readonly type: "tu2xx" }
  | { readonly type: "tu300to699" }
  | { readonly type: "timerTrying" }
  | { readonly type: "timerG" }
  | { readonly type: "timerH" }
  | { readonly type: "timerI" }
  | { readonly type: "timerL" }
  | { readonly type: "transportError" }

const timer = timers<Event, "timerTrying" | "timerG" | "timerH" | "timerI" | "timerL">()

export const machine = setup({
  types: types<Event>(),
  actions: {
    sendResponse: effect,
    sendTrying: effect,
    passAckToTU: effect,
    informTimeout: effect,
    informTransportError: effect,
    // §17.2.1: G doubles up to T2
    backoffG: timer.backoffToT2,
    startTimerTryingIfAuto: timer.startWhen("Trying", (context) => context.autoTrying),
    startTimerTrying: timer.start("Trying"),
    startTimerGIfUnreliable: timer.startIfUnreliable("G"),
    startTimerG: timer.start("G"),
    startTimerH: timer.start("H"),
    startTimerI: timer.start("I"),
    startTimerL: timer.start("L"),
    cancelTimerTrying: timer.cancel("Trying"),
    cancelTimerG: timer.cancel("G"),
    cancelTimerH: timer.cancel("H"),
    cancelTimerL: timer.cancel("L"),
  },
  delays: {
    timerTrying: ({ context }) => context.trying,
    timerG: ({ context }) => context.interval,
    timerH: ({ context }) => Timers.timerH(context),
    timerI: ({ context }) => Timers.timerI(context),
    timerL: ({ context }) => Timers.timerL(context),
  },
}).createMachine({
  id: "InviteServerTransaction",
  context,
  initial: "Proceeding",
  states: {
    Proceeding: {
      // §17.2.1: "send 100 if TU won't in 200 ms"
      entry: "startTimerTryingIfAuto",
      exit: "cancelTimerTrying",
      on: {
        // a retransmitted INVITE gets the most recent provisional response, if any
        request: { actions: "sendResponse" },
        timerTrying: { actions: "sendTrying" },
        tu1xx: { actions: ["cancelTimerTrying", "sendResponse"] },
        tu2xx: { target: "Accepted", actions: "sendResponse" },
        tu300to699: { target: "Completed", actions: "sendResponse" },
        transportError: { actions: "informTransportError" },
      },
    },
    Completed: {
      entry: ["startTimerGIfUnreliable", "startTimerH"],
      exit: ["cancelTimerG", "cancelTimerH"],
      on: {
        request: { actions: "sendResponse" },
        timerG: { actions: ["sendResponse", "backoffG", "startTimerG"] },
        ack: { target: "Confirmed" },
        timerH: { target: "Terminated", actions: "informTimeout" },
        transportError: { actions: "informTransportError" },
      },
    },
    Confirmed: {
      // §17.2.1: absorb further ACKs (and INVITEs) until Timer I
      entry: "startTimerI",
      on: {
        timerI: { target: "Terminated" },
      },
    },
    Accepted: {
      // RFC 6026 §8.7: INVITE retransmissions are absorbed; 2xx from the TU are sent; ACK to the TU
      entry: "startTimerL",
      exit: "cancelTimerL",
      on: {
        tu2xx: { actions: "sendResponse" },
        ack: { actions: "passAckToTU" },
        timerL: { target: "Terminated" },
        transportError: { actions: "informTransportError" },
      },
    },
    Terminated: { type: "final" },
  },
})
