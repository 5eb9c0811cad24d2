/**
 * Two user agents on loopback: Bob answers calls and prints messages; Alice sends Bob a
 * MESSAGE, calls him, re-INVITEs, and hangs up by closing the call's Scope.
 *
 *   node packages/ua/examples/call.ts
 */
import { Message } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver, Transport } from "@sipfx/transport"
import { Console, Effect, Stream } from "effect"
import { UserAgent } from "../src/index.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()
const sdp = (port: number) =>
  enc.encode(`v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\n`)

/** A UA on udp+tcp 127.0.0.1 with a port chosen by the system, living in `Scope`. */
const userAgent = (aor: string) =>
  Effect.gen(function* () {
    const transport = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0", "tcp://127.0.0.1:0"] })
    // built here, not through Effect.provide(layer), so that they live as long as this Scope
    const transactions = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    const ua = yield* UserAgent.make({ aor, product: "sipfx-example" }).pipe(
      Effect.provideService(TransactionLayer.TransactionLayer, transactions),
      Effect.provideService(Transport, transport),
      Effect.provide(Resolver.memory({})),
    )
    return { ua, port: transport.listenPoints[0]!.port }
  })

const program = Effect.gen(function* () {
  const bob = yield* userAgent("sip:bob@example.com")
  const alice = yield* userAgent("sip:alice@example.com")
  const bobUri = `sip:bob@127.0.0.1:${bob.port}`

  // Bob: print messages; answer every call, and report when it ends
  yield* bob.ua.messages.pipe(
    Stream.runForEach((m) =>
      Console.log(`bob got MESSAGE from ${m.from?.uri._tag === "SipUri" ? m.from.uri.user : "?"}: ${m.text}`),
    ),
    Effect.forkScoped,
  )
  yield* bob.ua.incoming.pipe(
    Stream.runForEach((incoming) =>
      Effect.scoped(
        Effect.gen(function* () {
          yield* incoming.ring
          const call = yield* incoming.accept(sdp(7000))
          yield* Console.log(`bob answered; offer was ${incoming.offer.length} bytes`)
          yield* Console.log(`bob: call ended (${yield* call.ended})`)
        }),
      ).pipe(Effect.forkChild),
    ),
    Effect.forkScoped,
  )

  const reply = yield* alice.ua.message(bobUri, "lunch?")
  yield* Console.log(`alice: MESSAGE answered ${reply.status}`)

  yield* Effect.scoped(
    Effect.gen(function* () {
      const call = yield* alice.ua.call(bobUri, sdp(6000))
      yield* Console.log(`alice: call ${call.state()}, answer:\n${dec.decode(call.remoteBody()).trim()}`)
      const r = yield* call.reinvite(sdp(6002))
      yield* Console.log(`alice: re-INVITE answered ${r.status}`)
      yield* Effect.sleep("200 millis")
      // leaving the scope sends BYE
    }),
  )
  yield* Effect.sleep("200 millis")
  const options = yield* alice.ua.options(bobUri)
  yield* Console.log(`alice: OPTIONS → ${options.status}, Allow: ${Message.headerValues(options, "Allow").join(", ")}`)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
