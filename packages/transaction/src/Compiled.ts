/**
 * A precomputed, memoised transition table derived from a machine definition.
 *
 * The machines' behaviour depends only on (state value, context, event type): messages are
 * kept by the driver, not in the context, and the context holds only timer configuration and
 * the current retransmit interval, so the reachable (state, context) pairs are few. Each pair
 * becomes a `Node`, computed once by XState's own `transition()`; afterwards a step is a Map
 * lookup. `test/compiled.test.ts` checks with fast-check that the table agrees with
 * `transition()` on random event sequences.
 */
import { type AnyMachineSnapshot, type AnyStateMachine, type EventObject, initialTransition, transition } from "xstate"
import type { TimerName, TransactionInput } from "./Timers.ts"

/** The side effects a transaction machine asks its runner to perform. */
export type EffectName =
  | "sendRequest"
  | "sendAck"
  | "sendResponse"
  | "sendTrying"
  | "passToTU"
  | "passAckToTU"
  | "informTimeout"
  | "informTransportError"

export type Step =
  | { readonly _tag: "Effect"; readonly name: EffectName }
  | { readonly _tag: "StartTimer"; readonly timer: TimerName; readonly event: string; readonly ms: number }
  | { readonly _tag: "CancelTimer"; readonly timer: TimerName }

export interface Edge {
  readonly target: Node
  readonly steps: ReadonlyArray<Step>
}

export interface Node {
  readonly table: Table
  /** the state's name, e.g. "Calling" */
  readonly value: string
  readonly done: boolean
  /** only retransmissions are left to absorb here: the runner may drop the parsed messages */
  readonly lingering: boolean
  readonly snapshot: AnyMachineSnapshot
  readonly edges: Map<string, Edge>
}

export interface Table {
  readonly machine: AnyStateMachine
  readonly initial: Node
  readonly entry: ReadonlyArray<Step>
  readonly nodes: Map<string, Node>
}

const effectNames = new Set<string>([
  "sendRequest",
  "sendAck",
  "sendResponse",
  "sendTrying",
  "passToTU",
  "passAckToTU",
  "informTimeout",
  "informTransportError",
])

const stepCache = new Map<string, Step>()

/** Translates an executable XState action into a driver step (shared, immutable objects). */
export const toStep = (action: { readonly type: string; readonly params?: unknown }): Step => {
  let key: string
  let make: () => Step
  if (action.type === "xstate.raise") {
    const p = action.params as { event: EventObject; id?: string; delay?: number }
    if (p.delay === undefined || p.id === undefined) throw new Error(`undelayed raise ${p.event.type}`)
    const ms = p.delay
    const timer = p.id as TimerName
    key = `start ${timer} ${p.event.type} ${ms}`
    make = () => ({ _tag: "StartTimer", timer, event: p.event.type, ms })
  } else if (action.type === "xstate.cancel") {
    const timer = (action.params as { sendId: string }).sendId as TimerName
    key = `cancel ${timer}`
    make = () => ({ _tag: "CancelTimer", timer })
  } else if (effectNames.has(action.type)) {
    const name = action.type as EffectName
    key = name
    make = () => ({ _tag: "Effect", name })
  } else {
    // our own machine definitions use nothing else: a defect, found by the model tests
    throw new Error(`unsupported action ${action.type}`)
  }
  let step = stepCache.get(key)
  if (step === undefined) stepCache.set(key, (step = make()))
  return step
}

/**
 * States after the final response in which a transaction only absorbs retransmissions, resending
 * its serialised response or ACK: RFC 3261 §17.1.1.2 (D), §17.1.2.2 (K), §17.2.1 (G, H, I),
 * §17.2.2 (J) and RFC 6026 §8.7 (L) and §8.4 (M; later 2xx still go to the TU).
 */
const lingeringStates: Record<string, ReadonlyArray<string>> = {
  InviteClientTransaction: ["Completed", "Accepted"],
  NonInviteClientTransaction: ["Completed"],
  InviteServerTransaction: ["Completed", "Confirmed", "Accepted"],
  NonInviteServerTransaction: ["Completed"],
}

const nodeKey = (snapshot: AnyMachineSnapshot): string =>
  `${JSON.stringify(snapshot.value)} ${JSON.stringify(snapshot.context)}`

const nodeFor = (table: Table, snapshot: AnyMachineSnapshot): Node => {
  const key = nodeKey(snapshot)
  let node = table.nodes.get(key)
  if (node === undefined) {
    node = {
      table,
      value: typeof snapshot.value === "string" ? snapshot.value : JSON.stringify(snapshot.value),
      done: snapshot.status === "done",
      lingering:
        typeof snapshot.value === "string" && (lingeringStates[table.machine.id]?.includes(snapshot.value) ?? false),
      snapshot,
      edges: new Map(),
    }
    table.nodes.set(key, node)
  }
  return node
}

/** Builds the table of a machine for one input (timer configuration and reliability). */
export const make = (machine: AnyStateMachine, input: TransactionInput): Table => {
  const [snapshot, actions] = initialTransition(machine, input)
  const table = { machine, nodes: new Map<string, Node>() } as { -readonly [K in keyof Table]: Table[K] }
  table.entry = actions.map(toStep)
  table.initial = nodeFor(table, snapshot)
  return table
}

/** One step: the memoised result of XState's `transition(machine, node.snapshot, { type })`. */
export const next = (node: Node, type: string): Edge => {
  let edge = node.edges.get(type)
  if (edge === undefined) {
    const [snapshot, actions] = transition(node.table.machine, node.snapshot, { type })
    edge = { target: nodeFor(node.table, snapshot), steps: actions.map(toStep) }
    node.edges.set(type, edge)
  }
  return edge
}

const tables = new WeakMap<AnyStateMachine, Map<string, Table>>()

/** The shared table of a machine for an input; one per distinct configuration. */
export const get = (machine: AnyStateMachine, input: TransactionInput): Table => {
  let byInput = tables.get(machine)
  if (byInput === undefined) tables.set(machine, (byInput = new Map()))
  const t = input.timers
  const key = `${t.t1} ${t.t2} ${t.t4} ${t.d} ${t.trying} ${input.reliable} ${input.autoTrying ?? true}`
  let table = byInput.get(key)
  if (table === undefined) byInput.set(key, (table = make(machine, input)))
  return table
}
