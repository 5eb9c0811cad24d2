/**
 * The seed scenario as a runnable example: `sipfx serve` in a child process, Chebychev and
 * Poisson as two sipfx user agents on loopback, test domains resolved in memory.
 *
 *   node packages/presence/examples/scenario.ts [tcp|udp]
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Ports } from "@sipfx/peers"
import { Effect, Fiber, Stream } from "effect"
import { Pidf } from "../src/index.ts"
import { agent } from "../test/harness.ts"

const transport = process.argv[2] === "udp" ? "udp" : "tcp"
const main = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url))

const program = Effect.gen(function* () {
  const [ps, pc, pp] = yield* Effect.promise(() => Ports.freePorts(3))
  const server = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [main, "serve", "--listen", `udp://127.0.0.1:${ps},tcp://127.0.0.1:${ps}`], {
        stdio: ["ignore", "pipe", "inherit"],
      }),
    ),
    (child) => Effect.sync(() => child.kill("SIGTERM")),
  )
  // wait for "sipfx listening on …"
  yield* Effect.callback<void>((resume) => {
    server.stdout?.on("data", (d: Buffer) => {
      if (String(d).includes("listening")) resume(Effect.void)
    })
  }).pipe(Effect.timeout("10 seconds"))
  const proxy = `sip:127.0.0.1:${ps}${transport === "tcp" ? ";transport=tcp" : ""};lr`
  const chebychev = yield* agent("sip:pafnuty@lecturehall21.academy.ru", pc, proxy)
  const poisson = yield* agent("sip:s.poisson@dist.probability.org", pp, proxy)
  yield* chebychev.ua.register({ expires: 600 })

  const sub = yield* chebychev.subscriber.subscribe("sip:s.poisson@dist.probability.org", "presence", { expires: 600 })
  console.log(`chebychev: SUBSCRIBE answered ${sub.response.status}`)
  const notes = yield* Effect.forkChild(
    sub.notifications.pipe(
      Stream.take(2),
      Stream.runForEach((n) =>
        Effect.sync(() => {
          const doc = Pidf.parse(n.body)
          console.log(
            `chebychev: NOTIFY ${n.state}, poisson is ${Pidf.isOpen(doc instanceof Pidf.PidfError ? undefined : doc) ? "open" : "closed"}`,
          )
        }),
      ),
    ),
  )
  yield* Effect.sleep("1500 millis")
  yield* poisson.ua.register({ expires: 600 })
  console.log("poisson: registered")
  yield* Fiber.join(notes).pipe(Effect.timeout("5 seconds"))

  const inbox = yield* Effect.forkChild(poisson.ua.messages.pipe(Stream.take(1), Stream.runCollect))
  const back = yield* Effect.forkChild(chebychev.ua.messages.pipe(Stream.take(1), Stream.runCollect))
  yield* Effect.sleep("20 millis")
  const r1 = yield* chebychev.ua.message("sip:s.poisson@dist.probability.org", "Hi There!")
  const [hi] = yield* Fiber.join(inbox)
  console.log(`poisson got MESSAGE: ${hi?.text} (answered ${r1.status})`)
  const r2 = yield* poisson.ua.message("sip:pafnuty@lecturehall21.academy.ru", "Well, hello there to you, too!")
  const [reply] = yield* Fiber.join(back)
  console.log(`chebychev got MESSAGE: ${reply?.text} (answered ${r2.status})`)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
