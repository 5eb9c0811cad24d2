/** A tiny stateless OPTIONS responder built on the package, used by the tests. */
import { Effect } from "effect"
import { type Config, NodeTransport, Stateless, Transport } from "../src/index.ts"

export const responder = (input: Config.TransportConfigInput, status = 200, reason = "OK") =>
  Effect.gen(function* () {
    const transport = yield* NodeTransport.make(input)
    yield* transport.subscribe((inbound) => {
      const m = inbound.message
      if (m._tag !== "SipRequest" || m.method === "ACK") return
      Effect.runFork(
        Stateless.respond(inbound, status, reason).pipe(Effect.provideService(Transport, transport), Effect.ignore),
      )
    })
    return transport
  })

export const portOf = (transport: Transport["Service"], protocol: string) =>
  transport.listenPoints.find((p) => p.protocol === protocol)!.port
