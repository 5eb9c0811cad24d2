import type { SipResponse } from "@sipfx/message"
import { Data } from "effect"

/** No destination for a request (the URI does not resolve, no listening point for its transport). */
export class NoRoute extends Data.TaggedError("NoRoute")<{ readonly reason: string }> {}

/** The SUBSCRIBE was answered with a failure (RFC 6665 §4.1.2.1): 489, 403, 404, … */
export class SubscribeFailed extends Data.TaggedError("SubscribeFailed")<{
  readonly status: number
  readonly response: SipResponse | undefined
}> {}

export class InvalidTarget extends Data.TaggedError("InvalidTarget")<{
  readonly input: string
  readonly reason: string
}> {}
