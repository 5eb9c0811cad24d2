/**
 * The stateful proxy in this process over a real NodeTransport (udp 127.0.0.1, port 0), for the
 * real-peer tests: loopback-only next hops, bindings written straight into the location service.
 */
import { readFileSync } from "node:fs"
import { Aor, LocationService, MemoryLocation, Registration } from "@sipfx/location"
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver, Transport } from "@sipfx/transport"
import { Context, Effect, Layer, type Scope } from "effect"
import { NextHops, Router, StatefulProxy } from "../src/index.ts"

export type Options = Omit<StatefulProxy.Options, "nextHops">

export interface Running {
  /** the proxy's UDP port on 127.0.0.1 */
  readonly port: number
  /** one REGISTER's worth of bindings for `sip:user@127.0.0.1:<proxy port>` (§10.3), q-values optional */
  readonly bind: (
    user: string,
    contacts: ReadonlyArray<{ readonly port: number; readonly q?: number }>,
  ) => Effect.Effect<void>
  readonly proxy: StatefulProxy.StatefulProxy["Service"]
}

/** Started in the current Scope; a failure to bind is a defect of the test setup. */
export const start = (options: Options = {}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* NodeTransport.make({ listen: ["udp://127.0.0.1:0"] })
    const port = transport.listenPoints[0]!.port
    const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    const context = yield* Layer.build(
      StatefulProxy.serve.pipe(
        Layer.provideMerge(StatefulProxy.layer({ ...options, nextHops: NextHops.loopback })),
        Layer.provideMerge(Router.location()),
        Layer.provideMerge(
          Layer.mergeAll(
            Layer.succeed(Transport, transport),
            Layer.succeed(TransactionLayer.TransactionLayer, tl),
            Resolver.memory({}),
            MemoryLocation.layer(),
          ),
        ),
      ),
    )
    const location = Context.get(context, LocationService)
    const bind = (user: string, contacts: ReadonlyArray<{ readonly port: number; readonly q?: number }>) =>
      location
        .update(
          Aor.fromString(`sip:${user}@127.0.0.1:${port}`) as Aor.Aor,
          Registration.contacts(
            `${user}-reg`,
            1,
            contacts.map((c) => ({ contact: `sip:${user}@127.0.0.1:${c.port}`, expires: 3600, q: c.q })),
          ),
        )
        .pipe(Effect.asVoid, Effect.orDie)
    return { port, bind, proxy: Context.get(context, StatefulProxy.StatefulProxy) }
  }).pipe(Effect.orDie)

/** One SIPp message log (`-trace_msg -message_file`): each message with the direction it went. */
export interface Logged {
  /** wall clock, ms (SIPp logs local time; only compared between logs of this machine) */
  readonly at: number
  readonly direction: "sent" | "received"
  readonly firstLine: string
  readonly text: string
}

export const messages = (file: string): ReadonlyArray<Logged> => {
  let log: string
  try {
    log = readFileSync(file, "latin1")
  } catch {
    return []
  }
  const out: Array<Logged> = []
  const entry =
    /-{10,} (\S+) (\d\d:\d\d:\d\d\.\d{3})\d*\n(?:UDP|TCP) message (sent|received)[^\n]*\n\n([^\n]*)\n([\s\S]*?)(?=\n-{10,}|$)/g
  for (const m of log.matchAll(entry)) {
    out.push({
      at: Date.parse(`${m[1]}T${m[2]}`),
      direction: m[3] === "sent" ? "sent" : "received",
      firstLine: m[4]!.trim(),
      text: `${m[4]}\n${m[5]}`,
    })
  }
  return out
}

/** how many messages went `direction` whose first line matches `pattern` */
export const count = (log: ReadonlyArray<Logged>, direction: Logged["direction"], pattern: RegExp): number =>
  log.filter((m) => m.direction === direction && pattern.test(m.firstLine)).length
