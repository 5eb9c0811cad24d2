/** A REGISTER the registrar refuses: the final response's status, reason and extra headers. */
import type { Header } from "@sipfx/message"
import { Data } from "effect"

export class Rejection extends Data.TaggedError("Rejection")<{
  readonly status: number
  /** reason phrase; the standard one when absent */
  readonly reason?: string | undefined
  /** why, for logs (never sent) */
  readonly detail: string
  readonly headers?: ReadonlyArray<Header.Header> | undefined
}> {}

export const reject = (
  status: number,
  detail: string,
  headers?: ReadonlyArray<Header.Header>,
  reason?: string,
): Rejection => new Rejection({ status, detail, headers, reason })
