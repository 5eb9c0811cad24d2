/** Test plumbing: a UA on real loopback sockets (ports and peers come from @sipfx/peers). */
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver, Transport } from "@sipfx/transport"
import { Effect, Layer, type Scope } from "effect"
import { UserAgent } from "../src/index.ts"

/** A UA on udp+tcp 127.0.0.1:port, built in the current Scope. Test domains resolve to loopback. */
export const realUa = (
  config: UserAgent.Config,
  port: number,
  dns: Record<string, ReadonlyArray<string>> = {},
): Effect.Effect<UserAgent.UserAgent["Service"], unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* NodeTransport.make({ listen: [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`] })
    const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    const layer = Layer.mergeAll(
      Layer.succeed(Transport, transport),
      Layer.succeed(TransactionLayer.TransactionLayer, tl),
      Resolver.memory(dns),
    )
    return yield* UserAgent.make(config).pipe(Effect.provide(layer))
  })
