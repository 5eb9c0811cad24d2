/**
 * Request validation (RFC 3261 §16.3, steps 1–5; step 6, Proxy-Authorization, is in
 * `ProxyAuth`). Pure: answers the rejection a proxy sends as a UAS (§8.2), or undefined.
 */
import { Header, Headers, Message, type SipRequest } from "@sipfx/message"
import * as Branch from "./Branch.ts"
import type * as Self from "./Self.ts"

export interface Rejection {
  readonly status: number
  readonly reason?: string | undefined
  readonly headers?: ReadonlyArray<Header.Header> | undefined
}

export interface Options {
  /** URI schemes we can route (§16.3 step 2); default sip, sips */
  readonly schemes?: ReadonlyArray<string> | undefined
  /** option-tags this proxy understands (§16.3 step 5) */
  readonly supported?: ReadonlyArray<string> | undefined
  /** §16.3 step 4 (optional in the RFC; default on) */
  readonly loopDetection?: boolean | undefined
}

const defaultSchemes = ["sip", "sips"]

export const check = (self: Self.Self, request: SipRequest, options: Options = {}): Rejection | undefined => {
  // 1. reasonable syntax: what a server transaction and forwarding need must be well-formed
  const invalid = Message.check(request)
  if (invalid !== undefined) return { status: 400, reason: `Bad Request (${invalid.reason})` }
  const mfRaw = Message.header(request, "Max-Forwards")
  const maxForwards = Message.maxForwards(request)
  if (mfRaw !== undefined && maxForwards === undefined) return { status: 400, reason: "Bad Request (Max-Forwards)" }
  // 2. URI scheme
  const scheme =
    request.uri._tag === "SipUri" ? request.uri.scheme : request.uri._tag === "TelUri" ? "tel" : request.uri.scheme
  if (!(options.schemes ?? defaultSchemes).includes(scheme.toLowerCase())) return { status: 416 }
  // 3. Max-Forwards: zero means not one more hop
  if (maxForwards === 0) return { status: 483 }
  // 4. loop detection (spirals pass)
  if (options.loopDetection !== false && Branch.isLoop(self, request)) return { status: 482 }
  // 5. Proxy-Require: every option-tag must be understood; 420 lists the others in Unsupported
  const required = Message.all(request, Headers.ProxyRequire)
  if (required.length > 0) {
    const supported = new Set((options.supported ?? []).map((t) => t.toLowerCase()))
    const unknown = required.filter((t) => !supported.has(t.toLowerCase()))
    if (unknown.length > 0) return { status: 420, headers: [Header.raw("Unsupported", unknown.join(", "))] }
  }
  return undefined
}
