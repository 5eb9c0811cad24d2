/**
 * The dialog of RFC 3261 §12 as an XState machine: Created → Early → Confirmed → Terminated.
 * The context is the dialog state of §12.1 (`DialogData`); `assign` keeps the CSeq rules of
 * §12.2 and the remote target / route set updates. Actions without a body (`rejectRequest`,
 * `terminated`) are performed by whoever runs the machine (the user agent), outside it.
 */
import type { SipRequest, SipResponse } from "@sipfx/message"
import { Message } from "@sipfx/message"
import { assign, setup } from "xstate"
import * as Dialog from "./Dialog.ts"

export interface Input {
  readonly dialog: Dialog.DialogData
  /** created by a 2xx (or the UAS sending one) rather than a 1xx with a To tag */
  readonly confirmed: boolean
}

export type Event =
  /** a 1xx with this dialog's To tag (UAC), or one we sent (UAS) */
  | { readonly type: "provisional"; readonly response: SipResponse }
  /** a 2xx to the dialog-creating INVITE: received (UAC) or sent (UAS) */
  | { readonly type: "success"; readonly response: SipResponse }
  /** a 300–699 final response to the dialog-creating INVITE (§12.3: early dialog ends) */
  | { readonly type: "failure"; readonly response: SipResponse }
  /** we send a request in the dialog (not ACK or CANCEL): the local CSeq moves (§12.2.1.1) */
  | { readonly type: "sendRequest"; readonly method: string }
  /** a 2xx to a target refresh request we sent (§12.2.1.2) */
  | { readonly type: "refreshed"; readonly response: SipResponse }
  /** a request the peer sent in this dialog (§12.2.2) */
  | { readonly type: "receiveRequest"; readonly request: SipRequest }
  /** BYE sent, 481/408 to an in-dialog request, ACK never came (§12.2.1.2, §13.3.1.4, §15) */
  | { readonly type: "terminate"; readonly reason: string }

export type Context = Dialog.DialogData

/** Requests that update the remote target (§12.2, RFC 3311 UPDATE, RFC 6665 SUBSCRIBE/NOTIFY). */
export const targetRefresh = new Set(["INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"])

/** The parameters of the actions the runner performs. */
export interface ActionParams {
  /** answer the request with this status (§12.2.2: 500 for a CSeq lower than the remote one) */
  readonly rejectRequest: { readonly status: number; readonly reason: string }
  readonly terminated: Record<string, never>
}

const seqOf = (event: Event): number | undefined =>
  event.type === "receiveRequest" ? Message.cseq(event.request)?.seq : undefined

const effect = (_: unknown, _params: unknown) => {}

// §12.2.2: a request from the peer, the same in Early and Confirmed dialogs
const receiveRequest = [
  { guard: "outOfOrder", actions: { type: "rejectRequest", params: { status: 500, reason: "CSeq Out of Order" } } },
  { guard: "isBye", target: "Terminated", actions: "acceptRemoteSeq" },
  { guard: "isTargetRefresh", actions: ["acceptRemoteSeq", "retargetFromRequest"] },
  { actions: "acceptRemoteSeq" },
] as const

export const machine = setup({
  types: {
    context: {} as Context,
    input: {} as Input,
    events: {} as Event,
  },
  actions: {
    // §12.2.1.1: incremented by one; set when empty (UAS before its first request)
    incrementLocalSeq: assign(({ context }) => ({
      localSeq: context.localSeq === undefined ? 1 : context.localSeq + 1,
    })),
    // §12.2.2: the remote sequence number becomes the request's CSeq
    acceptRemoteSeq: assign(({ context, event }) => ({ remoteSeq: seqOf(event) ?? context.remoteSeq })),
    // §12.2.2: a target refresh request replaces the remote target with its Contact
    retargetFromRequest: assign(({ context, event }) =>
      event.type === "receiveRequest" ? Dialog.retarget(context, event.request) : context,
    ),
    // §12.1.2: early dialogs take the remote target of each 1xx
    retargetFromResponse: assign(({ context, event }) =>
      (event.type === "provisional" || event.type === "refreshed") && context.role === "UAC"
        ? Dialog.retarget(context, event.response)
        : context,
    ),
    // §13.2.2.4: on the 2xx the route set and remote target are recomputed
    confirmFromResponse: assign(({ context, event }) =>
      event.type === "success" ? Dialog.confirmFrom(context, event.response) : context,
    ),
    rejectRequest: effect as (_: unknown, params: ActionParams["rejectRequest"]) => void,
    terminated: effect,
  },
  guards: {
    createdConfirmed: ({ event }) => (event as unknown as { input?: Input }).input?.confirmed === true,
    // §12.2.2: lower than the remote sequence number → 500; an empty one takes any value
    outOfOrder: ({ context, event }) => {
      const seq = seqOf(event)
      return seq === undefined || (context.remoteSeq !== undefined && seq <= context.remoteSeq)
    },
    isBye: ({ event }) => event.type === "receiveRequest" && event.request.method === "BYE",
    isTargetRefresh: ({ event }) => event.type === "receiveRequest" && targetRefresh.has(event.request.method),
  },
}).createMachine({
  id: "Dialog",
  context: ({ input }) => input.dialog,
  initial: "Created",
  states: {
    Created: {
      // a dialog starts Early from a 1xx with a To tag, Confirmed from a 2xx (§12.1)
      always: [{ guard: "createdConfirmed", target: "Confirmed" }, { target: "Early" }],
    },
    Early: {
      on: {
        provisional: { actions: "retargetFromResponse" },
        success: { target: "Confirmed", actions: "confirmFromResponse" },
        failure: { target: "Terminated" },
        sendRequest: { actions: "incrementLocalSeq" },
        receiveRequest,
        terminate: { target: "Terminated" },
      },
    },
    Confirmed: {
      on: {
        // §13.2.2.4: 2xx retransmissions change nothing
        success: {},
        sendRequest: { actions: "incrementLocalSeq" },
        refreshed: { actions: "retargetFromResponse" },
        receiveRequest,
        terminate: { target: "Terminated" },
      },
    },
    Terminated: { type: "final", entry: "terminated" },
  },
})
