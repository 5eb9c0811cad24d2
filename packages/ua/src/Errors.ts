import type { SipResponse } from "@sipfx/message"
import { Data } from "effect"

/** §22.2: the credentials were refused (a new challenge without stale=true), or none fit. */
export class AuthenticationFailed extends Data.TaggedError("AuthenticationFailed")<{
  readonly realm: string | undefined
  readonly status: number
  readonly reason: string
}> {}

/** A final response other than 2xx ended the request (after redirects and authentication). */
export class RequestFailed extends Data.TaggedError("RequestFailed")<{
  readonly status: number
  readonly reason: string
  readonly response: SipResponse
}> {}

/** No way to send: the target does not resolve, no listening point for its transport, transport failure. */
export class NoRoute extends Data.TaggedError("NoRoute")<{ readonly reason: string; readonly cause?: unknown }> {}

/** The peer never answered (Timer B or F, §17.1.1.2, §17.1.2.2). */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{ readonly method: string }> {}

/** 3xx recursion stopped: no untried Contact left, or the configured limit reached (§8.1.3.4). */
export class TooManyRedirects extends Data.TaggedError("TooManyRedirects")<{ readonly tried: ReadonlyArray<string> }> {}

/** The target or a configured URI does not parse. */
export class InvalidTarget extends Data.TaggedError("InvalidTarget")<{
  readonly input: string
  readonly reason: string
}> {}

export type UacError =
  | AuthenticationFailed
  | RequestFailed
  | NoRoute
  | RequestTimeout
  | TooManyRedirects
  | InvalidTarget
