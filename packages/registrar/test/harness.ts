/**
 * A registrar on the simulated network of `Testing.ts`, and REGISTERs from wire text.
 */
import { Credentials, type Table } from "@sipfx/auth"
import { Message, type SipRequest, type SipResponse } from "@sipfx/message"
import { Layer } from "effect"
import { type Options, Registrar } from "../src/index.ts"
import { parse, simulated } from "./Testing.ts"

export { parse }

let counter = 0

export interface RegisterOptions {
  readonly user?: string
  readonly domain?: string
  readonly contacts?: ReadonlyArray<string>
  readonly expires?: number | string
  readonly callId?: string
  readonly cseq?: number
  readonly extra?: ReadonlyArray<string>
  readonly requestUri?: string
  readonly to?: string
}

export const register = (o: RegisterOptions = {}): SipRequest => {
  const n = ++counter
  const user = o.user ?? "alice"
  const domain = o.domain ?? "example.com"
  const lines = [
    `REGISTER ${o.requestUri ?? `sip:${domain}`} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-reg-${n};rport`,
    "Max-Forwards: 70",
    `To: ${o.to ?? `<sip:${user}@${domain}>`}`,
    `From: <sip:${user}@${domain}>;tag=f${n}`,
    `Call-ID: ${o.callId ?? `reg-${n}@192.0.2.10`}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    ...(o.contacts ?? [`<sip:${user}@192.0.2.10:5060>`]).map((c) => `Contact: ${c}`),
    ...(o.expires === undefined ? [] : [`Expires: ${o.expires}`]),
    ...(o.extra ?? []),
  ]
  return parse(lines.join("\r\n") + "\r\n")
}

export const headerValues = (m: SipResponse, name: string): ReadonlyArray<string> => Message.headerValues(m, name)

/** Contact URI → expires param of a 200's Contact list. */
export const bindingsOf = (m: SipResponse): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const v of headerValues(m, "Contact")) {
    const match = /^<([^>]*)>.*;expires=(\d+)/.exec(v)
    if (match) out[match[1]!] = Number(match[2])
  }
  return out
}

/** The registrar Layers over a fresh simulated network, in the test's Scope. */
export const setup = (options: Options.Options = {}, users?: Table) =>
  simulated({
    seed: 7,
    name: "registrar",
    uaAddress: "192.0.2.10",
    app: (base) =>
      Registrar.serve.pipe(
        Layer.provideMerge(Registrar.layer(options)),
        Layer.provideMerge(Layer.merge(base, users === undefined ? Layer.empty : Credentials.layer(users))),
      ),
  })
