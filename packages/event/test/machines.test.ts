/**
 * The RFC 6665 machines run by `MachineRunner` on a manual clock: explicit paths for each
 * section, and fast-check sequences of events checked against the rules the RFC sets.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { NotifierMachine, Runner, SubscriberMachine } from "../src/index.ts"

/** A manual clock: `advance(ms)` fires what falls due, in order. */
const manual = () => {
  let now = 0
  let seq = 0
  const armed = new Map<number, { at: number; fire: () => void }>()
  const timers: Runner.Timers = {
    after: (ms, fire) => {
      const id = seq++
      armed.set(id, { at: now + ms, fire })
      return () => armed.delete(id)
    },
  }
  const advance = (ms: number) => {
    const until = now + ms
    for (;;) {
      const due = [...armed.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) break
      armed.delete(due[0])
      now = due[1].at
      due[1].fire()
    }
    now = until
  }
  return { timers, advance, armed: () => armed.size }
}

const notifier = (input: NotifierMachine.Input) => {
  const clock = manual()
  const actions: Array<Runner.NamedAction> = []
  const runner = new Runner.MachineRunner(NotifierMachine.machine, input, clock.timers, (a) => actions.push(a)).start()
  const notifies = () =>
    actions.filter((a) => a.type === "notify").map((a) => a.params as NotifierMachine.ActionParams["notify"])
  return { runner, clock, actions, notifies }
}

const subscriber = (input: SubscriberMachine.Input) => {
  const clock = manual()
  const actions: Array<Runner.NamedAction> = []
  const runner = new Runner.MachineRunner(SubscriberMachine.machine, input, clock.timers, (a) =>
    actions.push(a),
  ).start()
  const sent = () =>
    actions.filter((a) => a.type === "sendSubscribe").map((a) => (a.params as { expires: number }).expires)
  return { runner, clock, actions, sent }
}

describe("NotifierMachine (RFC 6665 §4.2)", () => {
  it("§4.2.1.1 an accepted SUBSCRIBE gets an immediate NOTIFY; the subscription ends at its expiry with reason timeout", () => {
    const n = notifier({ expires: 60, decision: "active" })
    expect(n.runner.state).toBe("Active")
    expect(n.notifies()).toEqual([{ state: "active" }])
    n.clock.advance(59_999)
    expect(n.runner.state).toBe("Active")
    n.clock.advance(1)
    expect(n.runner.state).toBe("Terminated")
    expect(n.notifies().at(-1)).toEqual({ state: "terminated", reason: "timeout" })
    expect(n.clock.armed()).toBe(0)
  })

  it("§4.2.1.2 a refresh restarts the duration and is answered with a NOTIFY", () => {
    const n = notifier({ expires: 60, decision: "active" })
    n.clock.advance(50_000)
    n.runner.send({ type: "refresh", expires: 120 })
    expect(n.notifies()).toHaveLength(2)
    n.clock.advance(100_000)
    expect(n.runner.state).toBe("Active")
    n.clock.advance(20_000)
    expect(n.runner.state).toBe("Terminated")
  })

  it("§4.2.1.1 / §4.4.3 Expires: 0 is a fetch: one NOTIFY terminated, nothing armed", () => {
    const n = notifier({ expires: 0, decision: "active" })
    expect(n.runner.state).toBe("Terminated")
    expect(n.notifies()).toEqual([{ state: "terminated", reason: "timeout" }])
    expect(n.clock.armed()).toBe(0)
  })

  it("§4.2.1.3 pending until authorised, then active; a rejection ends it with reason rejected", () => {
    const n = notifier({ expires: 600, decision: "pending" })
    expect(n.notifies()).toEqual([{ state: "pending" }])
    n.runner.send({ type: "stateChanged" }) // a pending watcher is told nothing
    expect(n.notifies()).toHaveLength(1)
    n.runner.send({ type: "authorize" })
    expect(n.notifies().at(-1)).toEqual({ state: "active" })
    const r = notifier({ expires: 600, decision: "pending" })
    r.runner.send({ type: "reject" })
    expect(r.notifies().at(-1)).toEqual({ state: "terminated", reason: "rejected" })
  })

  it("§4.2.2 a state change NOTIFYs an active watcher; a failed NOTIFY ends the subscription without another", () => {
    const n = notifier({ expires: 600, decision: "active" })
    n.runner.send({ type: "stateChanged" })
    expect(n.notifies()).toEqual([{ state: "active" }, { state: "active" }])
    n.runner.send({ type: "notifyFailed" })
    expect(n.runner.done).toBe(true)
    expect(n.notifies()).toHaveLength(2)
    expect(n.actions.filter((a) => a.type === "terminated")).toHaveLength(1)
  })

  it("§4.2.2 any event sequence: one terminated action at most, no NOTIFY after it, a final NOTIFY carries a reason", () => {
    const event = fc.oneof(
      fc.record({ type: fc.constant("refresh" as const), expires: fc.constantFrom(0, 60, 3600) }),
      fc.constantFrom(
        { type: "authorize" as const },
        { type: "reject" as const },
        { type: "stateChanged" as const },
        { type: "notifyFailed" as const },
        { type: "terminate" as const, reason: "deactivated" },
      ),
    )
    const step = fc.oneof(
      event.map((e) => ({ e })),
      fc.integer({ min: 1, max: 4000 }).map((ms) => ({ ms: ms * 100 })),
    )
    fc.assert(
      fc.property(
        fc.constantFrom<NotifierMachine.Input["decision"]>("active", "pending"),
        fc.constantFrom(0, 60, 3600),
        fc.array(step, { maxLength: 20 }),
        (decision, expires, steps) => {
          const n = notifier({ expires, decision })
          for (const s of steps) {
            if ("e" in s) n.runner.send(s.e)
            else n.clock.advance(s.ms)
          }
          const ended = n.actions.findIndex((a) => a.type === "terminated")
          const after = ended < 0 ? [] : n.actions.slice(ended + 1)
          const finals = n.notifies().filter((p) => p.state === "terminated")
          return (
            n.actions.filter((a) => a.type === "terminated").length <= 1 &&
            after.length === 0 &&
            finals.length <= 1 &&
            finals.every((p) => typeof p.reason === "string") &&
            (n.runner.done ? n.clock.armed() === 0 : true)
          )
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe("SubscriberMachine (RFC 6665 §4.1)", () => {
  it("§4.1.2.4 after the 2xx, Timer N (64·T1) without NOTIFY ends the subscription", () => {
    const s = subscriber({ t1: 500, expires: 600 })
    s.runner.send({ type: "accepted", expires: 600 })
    expect(s.runner.state).toBe("NotifyWait")
    s.clock.advance(32_000)
    expect(s.runner.state).toBe("Terminated")
    expect(s.actions.at(-1)).toEqual(expect.objectContaining({ type: "terminated", params: { reason: "timer N" } }))
  })

  it("§4.1.2.4 a NOTIFY before the 2xx creates the subscription; the late 2xx keeps it", () => {
    const s = subscriber({ t1: 500, expires: 600 })
    s.runner.send({ type: "notify", state: "active", expires: 600 })
    expect(s.runner.state).toBe("Active")
    s.runner.send({ type: "accepted", expires: 600 })
    expect(s.runner.state).toBe("Active")
    expect(s.actions.filter((a) => a.type === "delivered")).toHaveLength(1)
  })

  it("§4.1.2.2 refreshes ahead of expiry, and a 481 to the refresh ends the subscription", () => {
    const s = subscriber({ t1: 500, expires: 600 })
    s.runner.send({ type: "accepted", expires: 600 })
    s.runner.send({ type: "notify", state: "active", expires: 600 })
    s.clock.advance(539_999)
    expect(s.sent()).toEqual([])
    s.clock.advance(1)
    expect(s.sent()).toEqual([600])
    s.runner.send({ type: "accepted", expires: 600 })
    expect(s.runner.state).toBe("Active")
    s.clock.advance(540_000)
    expect(s.sent()).toEqual([600, 600])
    s.runner.send({ type: "rejected", status: 481 })
    expect(s.runner.state).toBe("Terminated")
  })

  it("§4.1.2.2 a subscription that is never refreshed expires", () => {
    const s = subscriber({ t1: 500, expires: 60 })
    s.runner.send({ type: "accepted", expires: 60 })
    s.runner.send({ type: "notify", state: "pending", expires: 60 })
    s.clock.advance(30_000)
    expect(s.sent()).toEqual([60])
    s.runner.send({ type: "rejected", status: 500 }) // not fatal by itself
    expect(s.runner.state).toBe("Refreshing")
    s.clock.advance(30_000)
    expect(s.runner.state).toBe("Terminated")
  })

  it("§4.1.2.3 unsubscribing sends Expires: 0 and ends on the final NOTIFY", () => {
    const s = subscriber({ t1: 500, expires: 600 })
    s.runner.send({ type: "accepted", expires: 600 })
    s.runner.send({ type: "notify", state: "active", expires: 600 })
    s.runner.send({ type: "unsubscribe" })
    expect(s.sent()).toEqual([0])
    expect(s.runner.state).toBe("Unsubscribing")
    s.runner.send({ type: "notify", state: "terminated", reason: "timeout" })
    expect(s.runner.state).toBe("Terminated")
  })

  it("§4.1.3 a NOTIFY with terminated ends the subscription in any live state; a NOTIFY's expires bounds it", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              type: fc.constant("notify" as const),
              state: fc.constantFrom<"pending" | "active">("pending", "active"),
              expires: fc.integer({ min: 1, max: 600 }),
            }),
            fc.record({ type: fc.constant("accepted" as const), expires: fc.integer({ min: 1, max: 600 }) }),
          ),
          { maxLength: 10 },
        ),
        (events) => {
          const s = subscriber({ t1: 500, expires: 600 })
          for (const e of events) s.runner.send(e)
          // §4.1.3: the notifier's expires bounds the subscription; the subscriber never extends it
          const last = events.at(-1)
          const okExpires = last?.type !== "notify" || s.runner.context.expires <= last.expires
          s.runner.send({ type: "notify", state: "terminated", reason: "deactivated" })
          return s.runner.done && okExpires && s.clock.armed() === 0
        },
      ),
      { numRuns: 300 },
    )
  })
})
