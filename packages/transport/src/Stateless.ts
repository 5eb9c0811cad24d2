/** Stateless answers (RFC 3261 §8.2.6, §16.11) through whatever `Transport` is provided. */
import type { SipResponse } from "@sipfx/message"
import { Effect } from "effect"
import { responseTo } from "./Codec.ts"
import { responseDestination } from "./Routing.ts"
import { type Inbound, Transport, TransportError } from "./Transport.ts"

/** Sends a response to `inbound` (a request) per §18.2.2, without a transaction. */
export const respond = (
  inbound: Inbound,
  status: number,
  reason: string,
  edit?: (response: SipResponse) => SipResponse,
): Effect.Effect<void, TransportError, Transport> =>
  Effect.gen(function* () {
    const request = inbound.message
    if (request._tag !== "SipRequest") {
      return yield* new TransportError({ reason: "Encode", message: "only a request can be answered" })
    }
    const base = responseTo(request, status, reason)
    const response = edit ? edit(base) : base
    const destination = responseDestination(response, inbound.source)
    if (destination instanceof TransportError) return yield* destination
    const transport = yield* Transport
    yield* transport.send(response, destination)
  })
