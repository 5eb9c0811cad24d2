/**
 * Choosing the response a stateful proxy sends when no 2xx came (RFC 3261 §16.7 step 6) and
 * shaping it (§16.7 steps 7–9). Pure.
 */
import { Message, type SipResponse } from "@sipfx/message"

// §16.7 step 6: among 4xx, these carry information that helps the caller retry
const preferred4xx = new Set([401, 407, 415, 420, 484])

const rank = (status: number): number => {
  const cls = Math.floor(status / 100)
  if (cls === 6) return 0 // any 6xx wins
  // lowest class first; within 4xx the preferred ones first; then the lowest code
  return cls * 10_000 + (cls === 4 && preferred4xx.has(status) ? 0 : 1_000) + status
}

/**
 * §16.7 step 6: a 6xx if any, else the lowest class; 503 becomes 500 (step 6: a 503 from
 * downstream must not make the caller think this proxy is overloaded); 401/407 challenges of
 * every branch are merged into the chosen 401/407 (step 7). Undefined when none (the caller answers 408).
 */
export const choose = (responses: ReadonlyArray<SipResponse>): SipResponse | undefined => {
  let best: SipResponse | undefined
  for (const r of responses) if (best === undefined || rank(r.status) < rank(best.status)) best = r
  if (best === undefined) return undefined
  if (best.status === 503) return { ...best, status: 500, reason: "Server Internal Error" }
  if (best.status === 401 || best.status === 407) {
    const challenges = responses.flatMap((r) =>
      r === best || (r.status !== 401 && r.status !== 407)
        ? []
        : r.headers.filter((h) => h.name === "WWW-Authenticate" || h.name === "Proxy-Authenticate"),
    )
    // added without modification; the chosen status stays (§16.7 step 7)
    if (challenges.length > 0) return { ...best, headers: [...best.headers, ...challenges] }
  }
  return best
}

/** §16.7 step 9: the copy sent upstream loses our (top) Via. */
export const upstream = (response: SipResponse): SipResponse => Message.removeFirst(response, "Via")
