/**
 * RFC 6665 §4.1.2.4 / RFC 4235 §3.9 over real sockets: one SUBSCRIBE forked by a proxy to two
 * notifiers installs two subscriptions at the subscriber. The forking proxy here is a minimal
 * stateless relay on a UDP socket: our Via on top towards both notifiers, the first 2xx back.
 */
import * as dgram from "node:dgram"
import { describe, expect, it } from "@effect/vitest"
import { Ports } from "@sipfx/peers"
import { Effect, Fiber, Stream } from "effect"
import { DialogInfo } from "../src/index.ts"
import { directAgent, observedUa } from "./harness.ts"

/** Forks each request to `targets`; relays the first final response of a transaction to the sender. */
const forkingRelay = (port: number, targets: ReadonlyArray<number>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ socket: dgram.Socket; forked: Array<string> }>((resolve) => {
          const socket = dgram.createSocket("udp4")
          const forked: Array<string> = []
          const senders = new Map<string, { port: number; answered: boolean }>()
          let n = 0
          socket.on("message", (m, from) => {
            const text = m.toString("latin1")
            if (text.startsWith("SIP/2.0 ")) {
              // a response: our Via is on top; drop it and pass the first final one on
              const lines = text.split("\r\n")
              const top = lines.findIndex((l) => /^Via:/i.test(l))
              const key = /branch=(z9hG4bK-fork-\d+)/.exec(lines[top] ?? "")?.[1] ?? ""
              const sender = senders.get(key)
              if (sender === undefined) return
              const status = Number(text.slice(8, 11))
              if (status >= 200) {
                if (sender.answered) return
                sender.answered = true
              }
              lines.splice(top, 1)
              socket.send(Buffer.from(lines.join("\r\n"), "latin1"), sender.port, "127.0.0.1")
              return
            }
            const key = `z9hG4bK-fork-${++n}`
            const state = { port: from.port, answered: false }
            senders.set(key, state)
            const [first, ...rest] = text.split("\r\n")
            // RFC 3261 §16.6 step 8: our Via on top (one branch id for the forks keeps the relay stateless)
            const out = [first, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${key}`, ...rest].join("\r\n")
            forked.push(first!)
            for (const t of targets) socket.send(Buffer.from(out, "latin1"), t, "127.0.0.1")
          })
          socket.bind(port, "127.0.0.1", () => resolve({ socket, forked }))
        }),
    ),
    ({ socket }) => Effect.sync(() => socket.close()),
  )

describe("RFC 6665 §4.1.2.4 a forked SUBSCRIBE", () => {
  it.live(
    "§4.1.2.4 / RFC 4235 §3.9: two notifiers answer one SUBSCRIBE: two subscriptions, each NOTIFYing in its own dialog; unsubscribe ends both",
    () =>
      Effect.gen(function* () {
        const [pf, pa, pb, pw] = yield* Effect.promise(() => Ports.freePorts(4))
        const ada = `sip:ada@127.0.0.1:${pf}`
        // ada's two devices, each a notifier for her dialog state
        const deskPhone = yield* observedUa(ada, pa)
        const softPhone = yield* observedUa(ada, pb)
        const relay = yield* forkingRelay(pf, [pa, pb])
        const { subscriber } = yield* directAgent("sip:watcher@127.0.0.1", pw)

        const sub = yield* subscriber.subscribe(ada, "dialog", { expires: 600 })
        expect(sub.response.status).toBe(200)
        expect(relay.forked).toHaveLength(1)
        // one NOTIFY from each device, each in a dialog of its own (From tag = that notifier's tag)
        const notes = [...(yield* Effect.timeout(Stream.runCollect(Stream.take(sub.notifications, 2)), "5 seconds"))]
        expect(new Set(notes.map((n) => n.subscription)).size).toBe(2)
        const tags = notes.map((n) => n.request.headers.find((h) => h.name === "From")!.value)
        expect(new Set(tags).size).toBe(2)
        for (const n of notes) {
          expect(n.state).toBe("active")
          const doc = DialogInfo.parse(n.body)
          if (doc instanceof DialogInfo.DialogInfoError) throw new Error(doc.reason)
          expect(doc).toMatchObject({ version: 0, entity: ada, dialogs: [] })
        }
        expect(sub.subscriptions()).toHaveLength(2)
        expect(deskPhone.notifier.subscriptions()).toHaveLength(1)
        expect(softPhone.notifier.subscriptions()).toHaveLength(1)

        // a call at one device reaches the watcher through that device's subscription only
        const next = yield* Effect.forkChild(Stream.runCollect(Stream.take(sub.notifications, 1)))
        yield* Effect.sleep("50 millis")
        deskPhone.dialogs.observe({
          id: "d1",
          callId: "c1@127.0.0.1",
          localTag: "l1",
          direction: "recipient",
          state: "trying",
          local: ada,
          remote: "sip:carol@example.com",
        })
        const [busy] = [...(yield* Effect.timeout(Fiber.join(next), "5 seconds"))]
        const deskSub = notes.find((n) => n.subscription === busy!.subscription)
        expect(deskSub).toBeDefined()
        const doc = DialogInfo.parse(busy!.body)
        if (doc instanceof DialogInfo.DialogInfoError) throw new Error(doc.reason)
        expect(doc.dialogs.map((d) => d.state)).toEqual(["trying"])

        // §4.1.2.3: unsubscribing ends the subscription in every dialog
        yield* sub.unsubscribe
        for (let i = 0; i < 30; i++) {
          if (deskPhone.notifier.subscriptions().length + softPhone.notifier.subscriptions().length === 0) break
          yield* Effect.sleep("100 millis")
        }
        expect(deskPhone.notifier.subscriptions()).toHaveLength(0)
        expect(softPhone.notifier.subscriptions()).toHaveLength(0)
      }).pipe(Effect.scoped),
    30_000,
  )
})
