/** Typed errors of the message layer. */
import { Data } from "effect"
import type { CSeq, NameAddr, Via } from "./Model.ts"

/** What survived of a rejected message, so that a server can still answer it (RFC 3261 §8.2). */
export interface PartialMessage {
  readonly kind: "request" | "response" | undefined
  readonly method: string | undefined
  readonly via: ReadonlyArray<Via>
  readonly callId: string | undefined
  readonly cseq: CSeq | undefined
  readonly from: NameAddr | undefined
  readonly to: NameAddr | undefined
}

/**
 * A message that cannot be accepted. `offset` is the byte offset in the input where the
 * problem was found; `status` is the response a server should send to a request
 * (505 for an unsupported SIP version, §8.2.2.1 / RFC 4475 §3.1.2.16; 400 otherwise).
 */
export class ParseError extends Data.TaggedError("ParseError")<{
  readonly reason: string
  readonly offset: number
  /** canonical name of the header at fault, when one is */
  readonly header: string | undefined
  readonly status: 400 | 505
  readonly partial: PartialMessage
}> {}

/** A header value that does not match its grammar (raised by lazy typed access). */
export class HeaderError extends Data.TaggedError("HeaderError")<{
  readonly header: string
  readonly reason: string
  readonly offset: number
}> {}
