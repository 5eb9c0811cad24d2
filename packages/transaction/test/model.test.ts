import { describe, expect, it } from "@effect/vitest"
import { type AnyMachineSnapshot, type AnyStateMachine, initialTransition, transition } from "xstate"
import { getShortestPaths, getSimplePaths } from "xstate/graph"
import {
  Compiled,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  Timers,
} from "../src/index.ts"
import { entry, oracles, refused, show } from "./oracle.ts"

const machines: ReadonlyArray<readonly [string, AnyStateMachine, string]> = [
  ["InviteClientTransaction", InviteClientTransaction.machine, "§17.1.1 Figure 5 + RFC 6026 §8.4"],
  ["NonInviteClientTransaction", NonInviteClientTransaction.machine, "§17.1.2 Figure 6"],
  ["InviteServerTransaction", InviteServerTransaction.machine, "§17.2.1 Figure 7 + RFC 6026 §8.7"],
  ["NonInviteServerTransaction", NonInviteServerTransaction.machine, "§17.2.2 Figure 8 + RFC 4320 §4"],
]

/** (state, event) pairs that the definition declares, read from the machine itself */
const declared = (machine: AnyStateMachine): Set<string> => {
  const pairs = new Set<string>()
  for (const [name, node] of Object.entries(machine.root.states)) {
    for (const type of node.transitions.keys()) pairs.add(`${name} ${type}`)
  }
  return pairs
}

const inputs: ReadonlyArray<Timers.TransactionInput> = [
  { timers: Timers.defaults, reliable: false },
  { timers: Timers.defaults, reliable: true },
  { timers: { ...Timers.defaults, t1: 100, t2: 1000, t4: 2000 }, reliable: false, autoTrying: false },
]

describe("model-based: every state reached, every transition taken, actions checked", () => {
  const coverage: Array<string> = []
  for (const [name, machine, section] of machines) {
    const oracle = oracles[name]!
    const events = [...new Set([...Object.keys(oracle).map((k) => k.split(" ")[1]!), ...(refused[name] ?? [])])].map(
      (type) => ({ type }),
    )

    it(`${section}: ${name} declares exactly the RFC's transitions`, () => {
      expect([...declared(machine)].sort()).toEqual(Object.keys(oracle).sort())
    })

    for (const input of inputs) {
      const label = `${input.reliable ? "reliable" : "unreliable"} T1=${input.timers.t1}`
      it(`${section}: ${name} (${label}) paths match the RFC table`, () => {
        const covered = new Set<string>()
        const states = new Set<string>()
        // one step checked against the oracle
        const step = (snapshot: AnyMachineSnapshot, type: string): AnyMachineSnapshot => {
          const state = snapshot.value as string
          const [next, actions] = transition(machine, snapshot, { type })
          const want = oracle[`${state} ${type}`]?.(snapshot.context)
          const got = actions.map((a) => show(Compiled.toStep(a)))
          if (want === undefined) {
            // §17: events a state does not name are absorbed without any action (and so are
            // guarded ones this configuration refuses, RFC 4320 §4.1)
            if (`${state} ${type}` in oracle) covered.add(`${state} ${type}`)
            expect(next.value, `${state} ${type}`).toBe(state)
            expect(got, `${state} ${type}`).toEqual([])
          } else {
            covered.add(`${state} ${type}`)
            expect(next.value, `${state} ${type}`).toBe(want.target)
            expect(got, `${state} ${type}`).toEqual(want.steps)
            if (want.interval !== undefined) expect(next.context.interval).toBe(want.interval)
            expect(next.status === "done").toBe(want.target === "Terminated")
          }
          states.add(next.value as string)
          return next
        }
        const [s0, a0] = initialTransition(machine, input)
        expect(a0.map((a) => show(Compiled.toStep(a)))).toEqual(entry[name]!(s0.context))
        const options = { events, input, serializeState: (s: AnyMachineSnapshot) => JSON.stringify(s.value) }
        // shortest path to every state, then every event from there
        for (const path of getShortestPaths(machine, options)) {
          let s = s0
          for (const { event } of path.steps.slice(1)) s = step(s, event.type)
          expect(s.value).toEqual(path.state.value)
          for (const e of events) step(s, e.type)
        }
        // every simple path, step by step
        let simple = 0
        for (const path of getSimplePaths(machine, options)) {
          let s = s0
          for (const { event } of path.steps.slice(1)) s = step(s, event.type)
          simple++
        }
        expect(simple).toBeGreaterThan(1)
        const all = Object.keys(oracle)
        const missing = all.filter((k) => !covered.has(k))
        expect(missing).toEqual([])
        expect(states).toContain("Terminated")
        coverage.push(
          `${name} (${label}): ${covered.size}/${all.length} transitions (${Math.round((100 * covered.size) / all.length)}%), ${states.size} states, ${simple} simple paths`,
        )
      })
    }
  }
  it("prints coverage", () => {
    console.log(`transition coverage:\n  ${coverage.join("\n  ")}`)
    expect(coverage.length).toBe(machines.length * inputs.length)
  })
})
