import { setup } from "xstate"
import * as Timers from "../Timers.ts"
import { context, effect, timers, types } from "./common.ts"

/** Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8). */
export type Event =
  | { readonly type: "request" }
  | { readonly type: "tu1xx" }
  | { readonly type: "tu200to699" }
  | { readonly type: "timerJ" }
  | { readonly type: "transportError" }

const timer = timers<Event, "timerJ">()

export const machine = setup({
  types: types<Event>(),
  actions: {
    sendResponse: effect,
    informTransportError: effect,
    startTimerJ: timer.start("J"),
  },
  delays: {
    timerJ: ({ context }) => Timers.timerJ(context),
  },
}).createMachine({
  id: "NonInviteServerTransaction",
  context,
  initial: "Trying",
  states: {
    Trying: {
      // §17.2.2: retransmissions of the request are discarded while Trying
      on: {
        tu1xx: { target: "Proceeding", actions: "sendResponse" },
        tu200to699: { target: "Completed", actions: "sendResponse" },
      },
    },
    Proceeding: {
      on: {
        request: { actions: "sendResponse" },
        tu1xx: { actions: "sendResponse" },
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
