/**
 * The dialog event package (RFC 4235): dialog-info+xml documents, the subscriber's table
 * (§4.3), and a UA whose call states reach a watcher over real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@sipfx/message"
import { Ports } from "@sipfx/peers"
import { Effect, Fiber, Stream } from "effect"
import * as fc from "fast-check"
import { DialogInfo } from "../src/index.ts"
import { directAgent, observedUa } from "./harness.ts"

// RFC 4235 §4.2's sample, with the entity §4.1 makes mandatory and a prefixed extension element
const sample = `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:x="urn:example:ext"
  xsi:schemaLocation="urn:ietf:params:xml:ns:dialog-info"
  version="1" state="full" entity="sip:alice@example.com">
  <dialog id="123456" call-id="a84b4c76e66710" local-tag="1928301774" direction="initiator">
    <state>confirmed</state>
    <duration>274</duration>
    <x:mood>fine</x:mood>
    <local>
      <identity display="Alice">sip:alice@example.com</identity>
      <target uri="sip:alice@pc33.example.com">
        <param pname="isfocus" pval="true"/>
        <param pname="class" pval="personal"/>
      </target>
    </local>
    <remote>
      <identity display="Bob">sip:bob@example.org</identity>
      <target uri="sip:bobster@phone21.example.org"/>
    </remote>
  </dialog>
  <dialog id="as7d900as8"><state event="rejected" code="486">terminated</state></dialog>
</dialog-info>`

describe("RFC 4235 §4 dialog-info+xml", () => {
  it("§4.2 the sample document parses: ids, tags, state, duration, participants, unknown elements ignored", () => {
    const doc = DialogInfo.parse(sample)
    if (doc instanceof DialogInfo.DialogInfoError) throw new Error(doc.reason)
    expect(doc.version).toBe(1)
    expect(doc.state).toBe("full")
    expect(doc.entity).toBe("sip:alice@example.com")
    const [d, t] = doc.dialogs
    expect(d).toMatchObject({
      id: "123456",
      callId: "a84b4c76e66710",
      localTag: "1928301774",
      direction: "initiator",
      state: "confirmed",
      duration: 274,
      local: {
        identity: { uri: "sip:alice@example.com", display: "Alice" },
        target: {
          uri: "sip:alice@pc33.example.com",
          params: [
            ["isfocus", "true"],
            ["class", "personal"],
          ],
        },
      },
      remote: {
        identity: { uri: "sip:bob@example.org", display: "Bob" },
        target: { uri: "sip:bobster@phone21.example.org" },
      },
    })
    // §4.1.2: the event and code of the transition into terminated
    expect(t).toMatchObject({ id: "as7d900as8", state: "terminated", event: "rejected", code: 486 })
  })

  it("§4.1 missing mandatory attributes, an unknown state and broken XML are DialogInfoErrors", () => {
    const bad = [
      sample.replace(' entity="sip:alice@example.com"', ""), // entity is mandatory
      sample.replace('version="1"', 'version="-1"'), // a non-negative integer
      sample.replace('version="1"', 'version="4294967296"'), // 32 bits
      sample.replace('state="full"', 'state="some"'),
      sample.replace('<dialog id="123456"', "<dialog"), // §4.1.1 id is mandatory
      sample.replace("<state>confirmed</state>", "<state>ringing</state>"),
      sample.replace("<state>confirmed</state>", ""), // state is the mandatory sub-element
      sample.replace("</dialog-info>", ""),
      "<presence/>",
    ]
    for (const b of bad) expect(DialogInfo.parse(b)).toBeInstanceOf(DialogInfo.DialogInfoError)
  })

  it("§4 format then parse gives the same document (300 random documents)", () => {
    const token = fc.stringMatching(/^[A-Za-z0-9.\-_~!*'()%]{1,12}$/)
    const uri = token.map((u) => `sip:${u}@example.com`)
    const participant = fc.record({
      identity: fc.option(
        fc.record({
          uri,
          display: fc.option(
            fc.string({ maxLength: 10 }).map((s) => s.trim() || "x"),
            { nil: undefined },
          ),
        }),
        { nil: undefined },
      ),
      target: fc.option(fc.record({ uri, params: fc.array(fc.tuple(token, token), { maxLength: 3 }) }), {
        nil: undefined,
      }),
    })
    const dialog = fc.record({
      id: token,
      callId: fc.option(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() === s && s !== ""),
        { nil: undefined },
      ),
      localTag: fc.option(token, { nil: undefined }),
      remoteTag: fc.option(token, { nil: undefined }),
      direction: fc.option(fc.constantFrom("initiator" as const, "recipient" as const), { nil: undefined }),
      state: fc.constantFrom(...DialogInfo.states),
      event: fc.option(fc.constantFrom("cancelled" as const, "rejected" as const, "local-bye" as const), {
        nil: undefined,
      }),
      code: fc.option(fc.integer({ min: 100, max: 699 }), { nil: undefined }),
      duration: fc.option(fc.nat(100000), { nil: undefined }),
      local: fc.option(participant, { nil: undefined }),
      remote: fc.option(participant, { nil: undefined }),
    })
    const doc = fc.record({
      version: fc.nat(0xffffffff),
      state: fc.constantFrom("full" as const, "partial" as const),
      entity: uri,
      dialogs: fc.uniqueArray(dialog, { selector: (d) => d.id, maxLength: 4 }),
    })
    // empty participants and absent options vanish in XML: compare against the normalised form
    const norm = (d: DialogInfo.Document) => JSON.parse(JSON.stringify(d))
    fc.assert(
      fc.property(doc, (d) => {
        const back = DialogInfo.parse(DialogInfo.format(d))
        if (back instanceof DialogInfo.DialogInfoError) throw new Error(`${back.reason}\n${DialogInfo.format(d)}`)
        const clean = (x: DialogInfo.Document) =>
          norm({
            ...x,
            dialogs: x.dialogs.map((y) => ({
              ...y,
              local: y.local?.identity || y.local?.target ? y.local : undefined,
              remote: y.remote?.identity || y.remote?.target ? y.remote : undefined,
            })),
          })
        expect(clean(back)).toEqual(clean(d))
      }),
      { numRuns: 300 },
    )
  })

  it("§4.3 the subscriber's table: full replaces, partial updates, older versions are discarded, a gap asks for a refresh", () => {
    const d = (id: string, state: DialogInfo.State): DialogInfo.Dialog => ({ id, state })
    const doc = (version: number, state: "full" | "partial", dialogs: Array<DialogInfo.Dialog>) => ({
      version,
      state,
      entity: "sip:bob@example.com",
      dialogs,
    })
    const t0 = DialogInfo.apply(undefined, doc(3, "full", [d("a", "early"), d("b", "confirmed")]))
    expect(t0._tag).toBe("Applied")
    const t1 = DialogInfo.apply(t0.table, doc(4, "partial", [d("a", "confirmed"), d("c", "trying")]))
    expect([...t1.table.dialogs.values()].map((x) => `${x.id}:${x.state}`)).toEqual([
      "a:confirmed",
      "b:confirmed",
      "c:trying",
    ])
    // an older (or equal) version is discarded without processing
    const stale = DialogInfo.apply(t1.table, doc(4, "full", []))
    expect(stale._tag).toBe("Discarded")
    expect(stale.table.dialogs.size).toBe(3)
    // terminated rows may be removed; a skipped version with partial state asks for full state
    const t2 = DialogInfo.apply(t1.table, doc(7, "partial", [d("b", "terminated")]))
    expect(t2._tag === "Applied" && t2.resubscribe).toBe(true)
    expect([...t2.table.dialogs.keys()]).toEqual(["a", "c"])
    expect(t2.table.version).toBe(7)
    const t3 = DialogInfo.apply(t2.table, doc(9, "full", [d("z", "early")]))
    expect(t3._tag === "Applied" && t3.resubscribe).toBe(false)
    expect([...t3.table.dialogs.keys()]).toEqual(["z"])
  })
})

const sdp = new TextEncoder().encode("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")

describe("RFC 4235 §3.7 a UA's call states reach a dialog watcher", () => {
  it.live(
    "§3.7.1 recipient FSM: trying → early → confirmed → terminated (remote-bye), one full-state NOTIFY each, versions 0, 1, 2, …",
    () =>
      Effect.gen(function* () {
        const [pa, pb, pc] = yield* Effect.promise(() => Ports.freePorts(3))
        const bobAor = `sip:bob@127.0.0.1:${pb}`
        // bob: a UA whose dialog FSM feeds the dialog package of a notifier on the same stack
        // bob: a UA whose dialog FSM feeds the dialog package of a notifier on the same stack
        const { ua: bob, dialogs } = yield* observedUa(bobAor, pb)
        // alice watches bob's dialogs; carol is the other party
        const { subscriber: alice } = yield* directAgent("sip:alice@127.0.0.1", pa)
        const { ua: carol } = yield* directAgent(`sip:carol@127.0.0.1:${pc}`, pc)

        const sub = yield* alice.subscribe(bobAor, "dialog", { expires: 600, accept: [DialogInfo.contentType] })
        expect(sub.response.status).toBe(200)
        const notes = yield* Effect.forkChild(
          sub.notifications.pipe(
            Stream.takeUntil((n) => new TextDecoder().decode(n.body).includes("remote-bye")),
            Stream.runCollect,
          ),
        )
        yield* Effect.sleep("200 millis")
        const answering = yield* Effect.forkChild(
          Effect.gen(function* () {
            const [ic] = yield* bob.incoming.pipe(Stream.take(1), Stream.runCollect)
            yield* ic!.ring
            yield* Effect.sleep("200 millis")
            return yield* ic!.accept(sdp)
          }),
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const call = yield* carol.call(bobAor, sdp)
            expect(call.state()).toBe("Confirmed")
            yield* Effect.sleep("200 millis")
          }),
        ) // closing the scope: carol's BYE
        const got = [...(yield* Effect.timeout(Fiber.join(notes), "5 seconds"))]
        yield* Fiber.interrupt(answering)
        const docs = got.map((n) => {
          expect(DialogInfo.isDialogInfo(n.contentType)).toBe(true)
          expect(Message.header(n.request, "Event")).toBe("dialog")
          const d = DialogInfo.parse(n.body)
          if (d instanceof DialogInfo.DialogInfoError) throw new Error(d.reason)
          return d
        })
        // §4.1: versions start at 0 and rise by one per document in the subscription
        expect(docs.map((d) => d.version)).toEqual(docs.map((_, i) => i))
        for (const d of docs) expect(d).toMatchObject({ state: "full", entity: bobAor })
        // the first NOTIFY (before the call) lists no dialog; then one dialog through the FSM
        expect(docs[0]!.dialogs).toEqual([])
        const states = docs.slice(1).map((d) => d.dialogs.map((x) => x.state).join(","))
        expect(states).toEqual(["trying", "early", "confirmed", "terminated"])
        const ids = new Set(docs.slice(1).map((d) => d.dialogs[0]!.id))
        expect(ids.size).toBe(1)
        const last = docs.at(-1)!.dialogs[0]!
        expect(last).toMatchObject({ direction: "recipient", event: "remote-bye" })
        expect(last.remote?.identity?.uri).toBe(`sip:carol@127.0.0.1:${pc}`)
        expect(last.local?.identity?.uri).toBe(bobAor)
        // confirmed carries the full dialog id (§4.1.1)
        const confirmed = docs[3]!.dialogs[0]!
        expect(confirmed.callId).toBeDefined()
        expect(confirmed.localTag).toBeDefined()
        expect(confirmed.remoteTag).toBeDefined()
        // the package forgets a terminated dialog
        expect(dialogs.dialogs()).toEqual([])
      }).pipe(Effect.scoped),
    30_000,
  )

  it.live(
    "§3.7.1 initiator FSM: trying → early (1xx with tag) → terminated, event rejected with code 486",
    () =>
      Effect.gen(function* () {
        const [pa, pb, pc] = yield* Effect.promise(() => Ports.freePorts(3))
        const bobAor = `sip:bob@127.0.0.1:${pb}`
        // bob: a UA whose dialog FSM feeds the dialog package of a notifier on the same stack
        const { ua: bob } = yield* observedUa(bobAor, pb)
        // alice watches bob's dialogs; carol is the other party
        const { subscriber: alice } = yield* directAgent("sip:alice@127.0.0.1", pa)
        const { ua: carol } = yield* directAgent(`sip:carol@127.0.0.1:${pc}`, pc)
        const sub = yield* alice.subscribe(bobAor, "dialog", { expires: 600 })
        expect(sub.response.status).toBe(200)
        const notes = yield* Effect.forkChild(
          sub.notifications.pipe(
            Stream.takeUntil((n) => new TextDecoder().decode(n.body).includes("terminated")),
            Stream.runCollect,
          ),
        )
        yield* Effect.sleep("200 millis")
        // carol rings, then is busy
        yield* Effect.forkChild(
          Effect.gen(function* () {
            const [ic] = yield* carol.incoming.pipe(Stream.take(1), Stream.runCollect)
            yield* ic!.ring
            yield* Effect.sleep("200 millis")
            yield* ic!.reject(486)
          }),
        )
        const failed = yield* Effect.flip(Effect.scoped(bob.call(`sip:carol@127.0.0.1:${pc}`, sdp)))
        expect(failed._tag).toBe("RequestFailed")
        const docs = [...(yield* Effect.timeout(Fiber.join(notes), "5 seconds"))].map((n) => {
          const d = DialogInfo.parse(n.body)
          if (d instanceof DialogInfo.DialogInfoError) throw new Error(d.reason)
          return d
        })
        expect(docs.map((d) => d.version)).toEqual([0, 1, 2, 3])
        expect(docs.slice(1).map((d) => d.dialogs.map((x) => x.state).join(","))).toEqual([
          "trying",
          "early",
          "terminated",
        ])
        // trying is a half-dialog: no remote tag yet (§4.1.1); early has one
        expect(docs[1]!.dialogs[0]!.remoteTag).toBeUndefined()
        expect(docs[2]!.dialogs[0]!.remoteTag).toBeDefined()
        expect(docs[3]!.dialogs[0]).toMatchObject({ direction: "initiator", event: "rejected", code: 486 })
        expect(new Set(docs.slice(1).map((d) => d.dialogs[0]!.id)).size).toBe(1)
      }).pipe(Effect.scoped),
    30_000,
  )
})
