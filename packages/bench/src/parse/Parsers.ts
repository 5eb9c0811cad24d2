/**
 * One adapter per parser: bytes as received from a socket in, the receive-path fields out
 * (`undefined` when the parser rejects the message). Each adapter makes its parser really
 * decode From/To tags, the top Via branch, CSeq, Call-ID, Contact and the body, through the
 * parser's own accessors, so that lazy parsers pay for what a stack would use.
 */
import { createRequire } from "node:module"
import { Headers, Message, Parser } from "@sipfx/message"
import { Core } from "sip.js"
import type { Extract } from "./Corpus.ts"

export interface ParserAdapter {
  readonly name: string
  readonly decode: (bytes: Uint8Array) => Extract | undefined
}

const require = createRequire(import.meta.url)

// Loosely typed views of the JavaScript parsers' results: only what is read below.
interface LooseUri {
  readonly user?: string | null
  readonly host?: string | null
}
interface LooseNameAddr {
  readonly uri: LooseUri
}

// Both JavaScript libraries take a string; a UDP socket hands over bytes. latin1 keeps
// one char per byte, so Content-Length (in bytes) still indexes the string correctly.
const toBinaryString = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")

const nonEmpty = (s: string | null | undefined): string | undefined => (s === null || s === "" ? undefined : s)

// ---- sipfx ----

export const sipfx: ParserAdapter = {
  name: "sipfx",
  decode: (bytes) => {
    const result = Parser.parse(bytes)
    if (result._tag !== "Ok") return undefined
    const m = result.message
    const cseq = Message.cseq(m)
    const branch = Message.branch(m)
    const fromTag = Message.fromTag(m)
    const callId = Message.callId(m)
    if (cseq === undefined || branch === undefined || fromTag === undefined || callId === undefined) return undefined
    const contact = Message.first(m, Headers.Contact)
    const uri = contact !== undefined && contact._tag === "Contact" ? contact.uri : undefined
    const sipUri = uri !== undefined && uri._tag === "SipUri" ? uri : undefined
    return {
      callId,
      cseq: cseq.seq,
      method: cseq.method,
      fromTag,
      toTag: Message.toTag(m),
      branch,
      contactUser: sipUri?.user,
      contactHost: sipUri?.host,
      bodyLength: m.body.length,
    }
  },
}

// ---- JsSIP (lib/Parser.js; it wants a UA object only to hand it to the request) ----

interface JsSipMessage {
  readonly call_id?: string
  readonly cseq?: number
  readonly method?: string
  readonly from_tag?: string
  readonly to_tag?: string
  readonly via_branch?: string
  readonly body?: string
  readonly parseHeader: (name: string) => LooseNameAddr | undefined
}
const JsSipParser = require("jssip/lib/Parser.js") as {
  parseMessage: (data: string, ua: unknown) => JsSipMessage | undefined
}
const fakeUa = {}

export const jssip: ParserAdapter = {
  name: "jssip",
  decode: (bytes) => {
    const m = JsSipParser.parseMessage(toBinaryString(bytes), fakeUa)
    if (m === undefined) return undefined
    if (m.call_id === undefined || m.cseq === undefined || m.from_tag === undefined || m.via_branch === undefined)
      return undefined
    const contact = m.parseHeader("contact")
    return {
      callId: m.call_id,
      cseq: m.cseq,
      method: m.method ?? "",
      fromTag: m.from_tag,
      toTag: nonEmpty(m.to_tag),
      branch: m.via_branch,
      contactUser: nonEmpty(contact?.uri.user),
      contactHost: nonEmpty(contact?.uri.host),
      bodyLength: m.body?.length ?? 0,
    }
  },
}

// ---- SIP.js (Core.Parser.parseMessage; needs a logger) ----

const silentLogger = new Core.LoggerFactory()
silentLogger.builtinEnabled = false
const sipJsLogger = silentLogger.getLogger("bench")

export const sipjs: ParserAdapter = {
  name: "sip.js",
  decode: (bytes) => {
    const m = Core.Parser.parseMessage(toBinaryString(bytes), sipJsLogger)
    if (m === undefined) return undefined
    if (!m.callId || !m.cseq || !m.fromTag || !m.viaBranch) return undefined
    const contact = m.parseHeader("contact") as LooseNameAddr | undefined
    return {
      callId: m.callId,
      cseq: m.cseq,
      method: m.method,
      fromTag: m.fromTag,
      toTag: nonEmpty(m.toTag),
      branch: m.viaBranch,
      contactUser: nonEmpty(contact?.uri.user),
      contactHost: nonEmpty(contact?.uri.host),
      bodyLength: m.body.length,
    }
  },
}

// ---- sip (sip.parse; headers are parsed eagerly, the Contact URI on request) ----

interface KirmParams {
  readonly params: Readonly<Record<string, string | null | undefined>>
}
interface KirmMessage {
  readonly method?: string
  readonly headers: {
    readonly from?: KirmParams
    readonly to?: KirmParams
    readonly via?: ReadonlyArray<KirmParams>
    readonly cseq?: { readonly seq: number; readonly method: string }
    readonly "call-id"?: string
    readonly contact?: ReadonlyArray<{ readonly uri: string }> | "*"
  }
  readonly content?: string
}
const Kirm = require("sip") as {
  parse: (data: Buffer) => KirmMessage | undefined
  parseUri: (s: string) => LooseUri | undefined
}

export const kirm: ParserAdapter = {
  name: "sip",
  decode: (bytes) => {
    const m = Kirm.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    if (m === undefined) return undefined
    const h = m.headers
    const fromTag = h.from?.params.tag
    const branch = h.via?.[0]?.params.branch
    const callId = h["call-id"]
    if (!fromTag || !branch || !callId || h.cseq === undefined) return undefined
    const first = Array.isArray(h.contact) ? h.contact[0] : undefined
    const uri = first === undefined ? undefined : Kirm.parseUri(first.uri)
    return {
      callId,
      cseq: h.cseq.seq,
      method: h.cseq.method,
      fromTag,
      toTag: nonEmpty(h.to?.params.tag),
      branch,
      contactUser: nonEmpty(uri?.user),
      contactHost: nonEmpty(uri?.host),
      bodyLength: m.content?.length ?? 0,
    }
  },
}

export const all: ReadonlyArray<ParserAdapter> = [sipfx, jssip, sipjs, kirm]
