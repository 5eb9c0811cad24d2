/** Every state machine of sipfx that is drawn into docs/machines. */

import { DialogMachine } from "@sipfx/dialog"
import { NotifierMachine, SubscriberMachine } from "@sipfx/event"
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
} from "@sipfx/transaction"
import type { AnyStateMachine } from "xstate"

export interface Entry {
  /** file name under docs/machines, without extension */
  readonly name: string
  readonly title: string
  /** where the behaviour is specified */
  readonly reference: string
  readonly machine: AnyStateMachine
}

export const machines: ReadonlyArray<Entry> = [
  {
    name: "InviteClientTransaction",
    title: "INVITE client transaction",
    reference: "RFC 3261 §17.1.1 (Figure 5), RFC 6026 §8.4",
    machine: InviteClientTransaction.machine,
  },
  {
    name: "NonInviteClientTransaction",
    title: "Non-INVITE client transaction",
    reference: "RFC 3261 §17.1.2 (Figure 6)",
    machine: NonInviteClientTransaction.machine,
  },
  {
    name: "InviteServerTransaction",
    title: "INVITE server transaction",
    reference: "RFC 3261 §17.2.1 (Figure 7), RFC 6026 §8.5–8.8",
    machine: InviteServerTransaction.machine,
  },
  {
    name: "NonInviteServerTransaction",
    title: "Non-INVITE server transaction",
    reference: "RFC 3261 §17.2.2 (Figure 8), RFC 4320 §4",
    machine: NonInviteServerTransaction.machine,
  },
  {
    name: "Dialog",
    title: "Dialog",
    reference: "RFC 3261 §12 (with §13.2.2.4, §15)",
    machine: DialogMachine.machine,
  },
  {
    name: "Subscriber",
    title: "Event subscription (subscriber)",
    reference: "RFC 6665 §4.1",
    machine: SubscriberMachine.machine,
  },
  {
    name: "Notifier",
    title: "Event subscription (notifier)",
    reference: "RFC 6665 §4.2",
    machine: NotifierMachine.machine,
  },
]
