/**
 * Runs one dialog machine synchronously: the snapshot is kept here, `transition()` is pure,
 * and the named actions the runner must perform are returned as data.
 */
import { initialTransition, type SnapshotFrom, transition } from "xstate"
import type * as Dialog from "./Dialog.ts"
import { type ActionParams, type Event, type Input, machine } from "./DialogMachine.ts"

export type State = "Early" | "Confirmed" | "Terminated"

export type Action = {
  [K in keyof ActionParams]: { readonly type: K; readonly params: ActionParams[K] }
}[keyof ActionParams]

type Snapshot = SnapshotFrom<typeof machine>

const performed = (actions: ReadonlyArray<{ readonly type: string; readonly params?: unknown }>): Array<Action> => {
  const out: Array<Action> = []
  for (const a of actions) if (a.type === "rejectRequest" || a.type === "terminated") out.push(a as Action)
  return out
}

export class DialogRunner {
  private snapshot: Snapshot
  /** the actions of the creation step (none today, kept for symmetry) */
  readonly initialActions: ReadonlyArray<Action>

  constructor(input: Input) {
    const [s, actions] = initialTransition(machine, input)
    this.snapshot = s
    this.initialActions = performed(actions)
  }

  /** Feeds one event; returns the actions to perform (reject with a status, terminated). */
  send(event: Event): ReadonlyArray<Action> {
    if (this.snapshot.status === "done") return []
    const [next, actions] = transition(machine, this.snapshot, event)
    this.snapshot = next
    return performed(actions)
  }

  get state(): State {
    return this.snapshot.value as State
  }

  get data(): Dialog.DialogData {
    return this.snapshot.context
  }

  get key(): string {
    const id = this.snapshot.context.id
    return `${id.callId}\u0000${id.localTag}\u0000${id.remoteTag}`
  }
}
