import { describe, expect, it } from "@effect/vitest"
import { Uri } from "@sipfx/message"
import * as fc from "fast-check"
import { type AnyMachineSnapshot, initialTransition, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import { Dialog, DialogMachine } from "../src/index.ts"
import * as F from "./fixtures.ts"

const machine = DialogMachine.machine
type Ctx = DialogMachine.Context

// the named events, each with one representative payload
const contact = (host: string) => [`Contact: <sip:bob@${host}>`]
const events: Record<string, DialogMachine.Event> = {
  provisional: { type: "provisional", response: F.response(180, "a6c85cf", contact("ringing.example.com"), "Ringing") },
  success: {
    type: "success",
    response: F.response(200, "a6c85cf", [...contact("answered.example.com"), "Record-Route: <sip:p1.example.com;lr>"]),
  },
  failure: { type: "failure", response: F.response(486, "a6c85cf", [], "Busy Here") },
  sendRequest: { type: "sendRequest", method: "INFO" },
  refreshed: { type: "refreshed", response: F.response(200, "a6c85cf", contact("moved.example.com")) },
  receiveInOrder: { type: "receiveRequest", request: F.inDialog("INFO", 5000) },
  receiveOld: { type: "receiveRequest", request: F.inDialog("INFO", 1) },
  receiveReinvite: { type: "receiveRequest", request: F.inDialog("INVITE", 6000, contact("reinvite.example.com")) },
  receiveBye: { type: "receiveRequest", request: F.inDialog("BYE", 7000) },
  terminate: { type: "terminate", reason: "test" },
}

const host = (u: Uri.Uri) => (u._tag === "SipUri" ? u.host : "")

interface Expect {
  readonly target: string
  readonly actions: ReadonlyArray<string>
  readonly check?: (before: Ctx, after: Ctx) => void
}

/** RFC 3261 §12 restated independently: (state, event) → target, actions, context change. */
const oracle: Record<string, Expect> = {
  "Early provisional": {
    target: "Early",
    actions: [],
    // §12.1.2: an early dialog's remote target follows the 1xx Contact
    check: (_, a) => expect(host(a.remoteTarget)).toBe(a.role === "UAC" ? "ringing.example.com" : host(_.remoteTarget)),
  },
  "Early success": {
    target: "Confirmed",
    actions: [],
    // §13.2.2.4: route set and target recomputed from the 2xx (UAC)
    check: (b, a) => {
      if (a.role === "UAC") {
        expect(host(a.remoteTarget)).toBe("answered.example.com")
        expect(a.routeSet.map((r) => host(r.uri))).toEqual(["p1.example.com"])
      } else expect(a.routeSet).toEqual(b.routeSet)
    },
  },
  "Early failure": { target: "Terminated", actions: ["terminated"] },
  "Early sendRequest": {
    target: "Early",
    actions: [],
    check: (b, a) => expect(a.localSeq).toBe(b.localSeq === undefined ? 1 : b.localSeq + 1),
  },
  "Early receiveInOrder": { target: "Early", actions: [], check: (_, a) => expect(a.remoteSeq).toBe(5000) },
  "Early receiveOld": { target: "Early", actions: [], check: (_, a) => expect(a.remoteSeq).toBe(1) },
  "Early receiveReinvite": {
    target: "Early",
    actions: [],
    check: (_, a) => {
      expect(a.remoteSeq).toBe(6000)
      expect(host(a.remoteTarget)).toBe("reinvite.example.com")
    },
  },
  "Early receiveBye": { target: "Terminated", actions: ["terminated"] },
  "Early terminate": { target: "Terminated", actions: ["terminated"] },
  "Confirmed success": { target: "Confirmed", actions: [], check: (b, a) => expect(a).toEqual(b) },
  "Confirmed sendRequest": {
    target: "Confirmed",
    actions: [],
    check: (b, a) => expect(a.localSeq).toBe(b.localSeq === undefined ? 1 : b.localSeq + 1),
  },
  "Confirmed refreshed": {
    target: "Confirmed",
    actions: [],
    check: (b, a) => expect(host(a.remoteTarget)).toBe(a.role === "UAC" ? "moved.example.com" : host(b.remoteTarget)),
  },
  "Confirmed receiveInOrder": { target: "Confirmed", actions: [], check: (_, a) => expect(a.remoteSeq).toBe(5000) },
  "Confirmed receiveOld": { target: "Confirmed", actions: [], check: (_, a) => expect(a.remoteSeq).toBe(1) },
  "Confirmed receiveReinvite": {
    target: "Confirmed",
    actions: [],
    check: (_, a) => expect(host(a.remoteTarget)).toBe("reinvite.example.com"),
  },
  "Confirmed receiveBye": { target: "Terminated", actions: ["terminated"] },
  "Confirmed terminate": { target: "Terminated", actions: ["terminated"] },
}

// §12.2.2: a request whose CSeq is not above the remote sequence gets 500
const rejects = (state: string, name: string, before: Ctx): boolean => {
  const e = events[name]!
  if (e.type !== "receiveRequest" || state === "Terminated" || before.remoteSeq === undefined) return false
  const seq = Number(e.request.headers.find((h) => h.name === "CSeq")!.value.split(" ")[0])
  return seq <= before.remoteSeq
}

const uacData = (): Dialog.DialogData => {
  const d = Dialog.uac(F.invite(), F.response(180, "a6c85cf", ["Contact: <sip:bob@192.0.2.4>"], "Ringing"))
  if (d instanceof Dialog.DialogError) throw d
  return d
}
const uasData = (): Dialog.DialogData => {
  const d = Dialog.uas(
    F.invite(["Record-Route: <sip:p2.example.com;lr>", "Record-Route: <sip:p1.example.com;lr>"]),
    "uas-tag",
  )
  if (d instanceof Dialog.DialogError) throw d
  return d
}

const names = (actions: ReadonlyArray<{ type: string }>) =>
  actions.map((a) => a.type).filter((t) => t === "rejectRequest" || t === "terminated")

describe("§12 dialog machine, model-based", () => {
  for (const [label, data] of [
    ["UAC", uacData()],
    ["UAS", uasData()],
  ] as const) {
    for (const confirmed of [false, true]) {
      it(`§12.1 ${label} dialog created ${confirmed ? "confirmed (2xx)" : "early (1xx with To tag)"}: every (state, event) matches the RFC table`, () => {
        const input = { dialog: data, confirmed }
        const [s0] = initialTransition(machine, input)
        expect(s0.value).toBe(confirmed ? "Confirmed" : "Early")
        const covered = new Set<string>()
        const step = (s: AnyMachineSnapshot, name: string): AnyMachineSnapshot => {
          const state = s.value as string
          const [next, actions] = transition(machine, s, events[name]!)
          const got = names(actions)
          const want = oracle[`${state} ${name}`]
          if (rejects(state, name, s.context as Ctx)) {
            expect(got, `${state} ${name}`).toEqual(["rejectRequest"])
            expect(actions.find((a) => a.type === "rejectRequest")?.params).toEqual({
              status: 500,
              reason: "CSeq Out of Order",
            })
            expect(next.value).toBe(state)
            covered.add(`${state} ${name}`)
            return next
          }
          if (want === undefined) {
            // not named in the state: ignored, context untouched
            expect(next.value, `${state} ${name}`).toBe(state)
            expect(got).toEqual([])
            expect(next.context).toEqual(s.context)
            return next
          }
          covered.add(`${state} ${name}`)
          expect(next.value, `${state} ${name}`).toBe(want.target)
          expect(got, `${state} ${name}`).toEqual(want.actions)
          want.check?.(s.context as Ctx, next.context as Ctx)
          expect(next.status === "done").toBe(want.target === "Terminated")
          return next
        }
        const eventList = Object.values(events)
        const paths = getShortestPaths(machine, {
          input,
          events: eventList,
          serializeState: (s) => JSON.stringify(s.value),
        })
        const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)))
        expect(reached).toEqual(
          new Set(confirmed ? ['"Confirmed"', '"Terminated"'] : ['"Early"', '"Confirmed"', '"Terminated"']),
        )
        for (const path of paths) {
          let s: AnyMachineSnapshot = s0
          for (const { event } of path.steps.slice(1)) {
            const name = Object.entries(events).find(([, e]) => e === event)?.[0]
            s = step(s, name!)
          }
          for (const name of Object.keys(events)) {
            // twice: the second receiveOld meets a set remote sequence number
            step(step(s, "receiveInOrder"), name)
            step(s, name)
          }
        }
        const expected = Object.keys(oracle).filter((k) => (confirmed ? k.startsWith("Confirmed") : true))
        for (const k of expected) expect(covered, k).toContain(k)
      })
    }
  }

  it("§12.2.1.1 / §12.2.2 property: local CSeq rises by one per request; remote CSeq only moves forward", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant<"send">("send"), fc.integer({ min: 1, max: 2 ** 31 - 1 })), { maxLength: 40 }),
        (ops) => {
          const [s0] = initialTransition(machine, { dialog: uacData(), confirmed: true })
          let s: AnyMachineSnapshot = s0
          let local = 314159
          let remote: number | undefined
          for (const op of ops) {
            if (op === "send") {
              ;[s] = transition(machine, s, { type: "sendRequest", method: "INFO" })
              local++
            } else {
              const [next, actions] = transition(machine, s, {
                type: "receiveRequest",
                request: F.inDialog("INFO", op),
              })
              const rejected = remote !== undefined && op <= remote
              expect(names(actions)).toEqual(rejected ? ["rejectRequest"] : [])
              if (!rejected) remote = op
              s = next
            }
            expect((s.context as Ctx).localSeq).toBe(local)
            expect((s.context as Ctx).remoteSeq).toBe(remote)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe("§12.1 dialog creation", () => {
  it("§12.1.2 UAC: id from Call-ID, From tag, To tag; route set is Record-Route reversed; target is Contact", () => {
    const d = Dialog.uac(
      F.invite(),
      F.response(200, "a6c85cf", [
        "Record-Route: <sip:p1.example.com;lr>",
        "Record-Route: <sip:p2.example.com;lr>",
        "Contact: <sip:bob@192.0.2.4>",
      ]),
    )
    if (d instanceof Dialog.DialogError) throw d
    expect(d.id).toEqual({
      callId: "a84b4c76e66710@pc33.atlanta.example.com",
      localTag: "1928301774",
      remoteTag: "a6c85cf",
    })
    expect(d.routeSet.map((r) => host(r.uri))).toEqual(["p2.example.com", "p1.example.com"])
    expect(Uri.format(d.remoteTarget)).toBe("sip:bob@192.0.2.4")
    expect(d.localSeq).toBe(314159)
    expect(d.remoteSeq).toBeUndefined()
  })

  it("§12.1.1 UAS: route set in Record-Route order, remote sequence from CSeq, local sequence empty", () => {
    const d = uasData()
    expect(d.routeSet.map((r) => host(r.uri))).toEqual(["p2.example.com", "p1.example.com"])
    expect(d.remoteSeq).toBe(314159)
    expect(d.localSeq).toBeUndefined()
    expect(d.id.localTag).toBe("uas-tag")
    expect(Dialog.requestKey(F.inDialog("BYE", 1))).toBe(
      Dialog.key({ callId: "a84b4c76e66710@pc33.atlanta.example.com", localTag: "1928301774", remoteTag: "a6c85cf" }),
    )
  })

  it("§12.1.2 a response without To tag or a 2xx without Contact makes no dialog", () => {
    expect(Dialog.uac(F.invite(), F.response(180, undefined, [], "Ringing"))).toBeInstanceOf(Dialog.DialogError)
    expect(Dialog.uac(F.invite(), F.response(200, "x"))).toBeInstanceOf(Dialog.DialogError)
    expect(
      Dialog.uas(
        F.invite().headers.some((h) => h.name === "Contact")
          ? { ...F.invite(), headers: F.invite().headers.filter((h) => h.name !== "Contact") }
          : F.invite(),
        "t",
      ),
    ).toBeInstanceOf(Dialog.DialogError)
  })
})
