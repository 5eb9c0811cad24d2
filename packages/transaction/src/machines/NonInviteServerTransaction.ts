import { setup } from "xstate"
import * as Timers from "../Timers.ts"
import { context, effect, timers, types } from "./common.ts"

/**
 * Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8) with RFC 4320 §4.1–4.2:
 * no provisional but 100; over unreliable transports no 100 before the client's Timer E reaches
 * T2, and a 100 from the transaction itself at that moment if the TU has not answered; never 408.
 */
export type Event =
  | { readonly type: "request" }
  | { readonly type: "tu100" }
  /** RFC 4320 §4.1: MUST NOT be sent — no state takes it */
  | { readonly type: "tu101to199" }
  | { readonly type: "tu200to699" }
  /** RFC 4320 §4.2: a transaction-stateful element MUST NOT send 408 — no state takes it */
  | { readonly type: "tu408" }
  | { readonly type: "timerTrying" }
  | { readonly type: "timerJ" }
  | { readonly type: "transportError" }

const timer = timers<Event, "timerTrying" | "timerJ">()

export const machine = setup({
  types: types<Event>(),
  actions: {
    sendResponse: effect,
    sendTrying: effect,
    informTransportError: effect,
    startTimerTrying: timer.start("Trying"),
    cancelTimerTrying: timer.cancel("Trying"),
    startTimerJ: timer.start("J"),
  },
  guards: {
    // RFC 4320 §4.1: a 100 MAY go over a reliable transport at any time
    reliable: ({ context }) => context.reliable,
  },
  delays: {
    timerTrying: ({ context }) => Timers.timerENonInviteTrying(context),
    timerJ: ({ context }) => Timers.timerJ(context),
  },
}).createMachine({
  id: "NonInviteServerTransaction",
  context,
  initial: "Trying",
  states: {
    Trying: {
      // RFC 4320 §4.1: "MUST respond ... with a Status-Code of 100 if it has not otherwise responded"
      entry: "startTimerTrying",
      exit: "cancelTimerTrying",
      // §17.2.2: retransmissions of the request are discarded while Trying
      on: {
        tu100: { guard: "reliable", target: "Proceeding", actions: "sendResponse" },
        timerTrying: { target: "Proceeding", actions: "sendTrying" },
        tu200to699: { target: "Completed", actions: "sendResponse" },
      },
    },
    Proceeding: {
      on: {
        request: { actions: "sendResponse" },
        tu100: { actions: "sendResponse" },
        tu200to699: { target: "Completed", actions: "sendResponse" },
        transportError: { target: "Terminated", actions: "informTransportError" },
      },
    },
    Completed: {
      entry: "startTimerJ",
      on: {
        // the final response is resent for every retransmission, until Timer J
        request: { actions: "sendResponse" },
        timerJ: { target: "Terminated" },
        transportError: { target: "Terminated", actions: "informTransportError" },
      },
    },
    Terminated: { type: "final" },
  },
})
