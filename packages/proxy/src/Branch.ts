/**
 * Branch parameters (RFC 3261 §16.6 step 8, §16.3 step 4, §16.11). A branch we create is
 * `z9hG4bK` + a hash of the request's routing invariants + `.` + a per-branch part, so a
 * request coming back can be told apart: the same invariants mean a loop (482), different
 * ones a spiral. The method is not hashed, so CANCEL and ACK share their request's value.
 */
import { hash } from "node:crypto"
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
  // one string, one native call (`hash`): cheaper than a Hash object fed field by field
  let text = `${Message.toTag(request) ?? ""}\n${Message.fromTag(request) ?? ""}\n${Message.callId(request) ?? ""}\n${Uri.format(request.uri)}\n${formatVia(topVia)}\n${Message.cseq(request)?.seq ?? ""}`
  for (const f of request.headers) {
    if (f.name === "Route" || f.name === "Proxy-Require" || f.name === "Proxy-Authorization")
      text += `\n${f.name}:${f.value}`
  }
  return hash("md5", text, "hex")
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
  const incoming = top === undefined ? "" : String(Message.param(top.params, "branch") ?? "")
  return `${magicCookie}${loop}.s${hash("md5", `${loop}\n${incoming}\n${target}`, "hex").slice(0, 16)}`
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
