/**
 * Branch parameters (RFC 3261 §16.6 step 8, §16.3 step 4, §16.11). A branch we create is
 * `z9hG4bK` + a hash of the request's routing invariants + `.` + a per-branch part, so a
 * request coming back can be told apart: the same invariants mean a loop (482), different
 * ones a spiral. The method is not hashed, so CANCEL and ACK share their request's value.
 */
import { createHash } from "node:crypto"
import { Headers, Message, type SipRequest, Uri, type Via } from "@sipfx/message"
import * as Self from "./Self.ts"

export const magicCookie = "z9hG4bK"

const formatVia = (via: Via | undefined): string => (via === undefined ? "" : Headers.Via.format(via))

/**
 * §16.6 step 8: MD5 (hex) over the To tag, From tag, Call-ID, Request-URI as received, the
 * Via that was on top when the request reached us, the CSeq number, and every Route,
 * Proxy-Require and Proxy-Authorization value (the fields affecting admission and routing).
 */
export const invariants = (request: SipRequest, topVia: Via | undefined): string => {
  const h = createHash("md5")
  h.update(Message.toTag(request) ?? "")
  h.update("\n")
  h.update(Message.fromTag(request) ?? "")
  h.update("\n")
  h.update(Message.callId(request) ?? "")
  h.update("\n")
  h.update(Uri.format(request.uri))
  h.update("\n")
  h.update(formatVia(topVia))
  h.update("\n")
  h.update(String(Message.cseq(request)?.seq ?? ""))
  for (const f of request.headers) {
    if (f.name === "Route" || f.name === "Proxy-Require" || f.name === "Proxy-Authorization") {
      h.update("\n")
      h.update(f.name)
      h.update(":")
      h.update(f.value)
    }
  }
  return h.digest("hex")
}

let counter = 0
const instance = Math.floor(Math.random() * 0xffffffff).toString(36)

/** A fresh branch for one forwarded copy: loop-detection part, then a unique part. */
export const make = (loopHash: string): string => `${magicCookie}${loopHash}.${instance}${(counter++).toString(36)}`

/**
 * §16.11: a stateless proxy's branch is a function of the request alone, so a retransmission
 * takes the same branch (and path). It hashes the invariants, the incoming branch and the target.
 */
export const stateless = (request: SipRequest, target: string): string => {
  const top = Message.topVia(request)
  const loop = invariants(request, top)
  const h = createHash("md5")
  h.update(loop)
  h.update("\n")
  h.update(top === undefined ? "" : String(Message.param(top.params, "branch") ?? ""))
  h.update("\n")
  h.update(target)
  return `${magicCookie}${loop}.s${h.digest("hex").slice(0, 16)}`
}

/** The loop-detection part of one of our branches, if it has one. */
export const loopPart = (branch: string): string | undefined => {
  if (!branch.startsWith(magicCookie)) return undefined
  const dot = branch.indexOf(".", magicCookie.length)
  return dot < 0 ? undefined : branch.slice(magicCookie.length, dot)
}

/**
 * §16.3 step 4: the request has looped when one of its Vias is ours and carries the hash of
 * this request's invariants computed as when it first reached us (with the Via just below
 * ours as the top one). A Via of ours with another hash means a spiral.
 */
export const isLoop = (self: Self.Self, request: SipRequest): boolean => {
  const vias = Message.all(request, Headers.Via)
  for (let i = 0; i < vias.length; i++) {
    const via = vias[i]!
    if (!Self.isOurVia(self, via)) continue
    const branch = Message.param(via.params, "branch")
    const part = typeof branch === "string" ? loopPart(branch) : undefined
    if (part !== undefined && part === invariants(request, vias[i + 1])) return true
  }
  return false
}
