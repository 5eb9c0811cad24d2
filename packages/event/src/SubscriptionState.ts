/**
 * The Subscription-State header of RFC 6665 §8.2.3 as a typed value: the substate, the
 * reason of a termination (§4.1.3) with `retry-after`, and the remaining `expires`.
 */
import { Header, Headers, Message, type SipRequest } from "@sipfx/message"

export type Substate = "pending" | "active" | "terminated"

/** RFC 6665 §4.1.3 reasons (others are kept as text) */
export type Reason = "deactivated" | "probation" | "rejected" | "timeout" | "giveup" | "noresource" | "invariant"

export interface State {
  readonly state: Substate
  readonly reason?: string | undefined
  readonly expires?: number | undefined
  readonly retryAfter?: number | undefined
}

const uint = (v: string | null | undefined): number | undefined =>
  typeof v === "string" && /^\d{1,10}$/.test(v) ? Number(v) : undefined

/** The state a NOTIFY carries; an unknown substate counts as pending (§8.2.3 extension rule is ours: be safe). */
export const fromRequest = (request: SipRequest): State | undefined => {
  const v = Message.first(request, Headers.SubscriptionState)
  if (v === undefined) return undefined
  const s = v.state.toLowerCase()
  const state: Substate = s === "active" || s === "terminated" ? s : "pending"
  const reason = Message.param(v.params, "reason")
  return {
    state,
    reason: typeof reason === "string" ? reason.toLowerCase() : undefined,
    expires: uint(Message.param(v.params, "expires")),
    retryAfter: uint(Message.param(v.params, "retry-after")),
  }
}

export const format = (s: State): string =>
  s.state +
  (s.reason !== undefined ? `;reason=${s.reason}` : "") +
  (s.expires !== undefined && s.state !== "terminated" ? `;expires=${s.expires}` : "") +
  (s.retryAfter !== undefined ? `;retry-after=${s.retryAfter}` : "")

export const header = (s: State): Header.Header => Header.raw("Subscription-State", format(s))
