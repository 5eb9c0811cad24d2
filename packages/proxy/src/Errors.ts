import type { Destination } from "@sipfx/transport"
import { Data } from "effect"

/** The outbound policy refused every destination of a target (never sent: answered 403). */
export class NextHopRefused extends Data.TaggedError("NextHopRefused")<{
  readonly target: string
  readonly destinations: ReadonlyArray<Destination>
}> {}

/** A target could not be resolved to any destination (RFC 3263 failed): acts as a 408 (§16.6 step 7). */
export class NoRoute extends Data.TaggedError("NoRoute")<{
  readonly target: string
  readonly reason: string
}> {}

/** The routing policy failed (e.g. the location store is down): answered 500. */
export class RoutingFailed extends Data.TaggedError("RoutingFailed")<{
  readonly reason: string
  readonly cause?: unknown
}> {}
