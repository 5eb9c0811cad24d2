/**
 * Address-of-record canonical form (RFC 3261 §10.3 step 5): the index of the bindings.
 * All URI parameters (user-param included) and headers are removed, escaped characters
 * are unescaped where that keeps the URI unambiguous, and the parts that §19.1.4
 * compares case-insensitively (scheme, host) are lower-cased. The user part stays
 * case-sensitive, as §19.1.4 requires.
 */
import { Uri } from "@sipfx/message"
import { Data } from "effect"

declare const AorBrand: unique symbol
/** A canonical address-of-record; build one with `canonical` or `fromString`. */
export type Aor = string & { readonly [AorBrand]: "Aor" }

export class InvalidAor extends Data.TaggedError("InvalidAor")<{
  readonly input: string
  readonly reason: string
}> {}

// RFC 3261 §25.1 user = 1*( unreserved / escaped / user-unreserved )
const userSafe = /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/

/** %HH → the character when it may appear unescaped in a user part; else %HH upper-cased. */
const unescapeUser = (user: string): string =>
  user.indexOf("%") < 0
    ? user
    : user.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
        const ch = String.fromCharCode(Number.parseInt(hex, 16))
        return userSafe.test(ch) ? ch : `%${hex.toUpperCase()}`
      })

const sipForm = (scheme: string, user: string | undefined, host: string, port: number | undefined): Aor =>
  `${scheme}:${user === undefined ? "" : `${unescapeUser(user)}@`}${host.toLowerCase()}${
    port === undefined ? "" : `:${port}`
  }` as Aor

/** RFC 3966 §5.1.1: visual separators carry no meaning in a telephone number. */
const telNumber = (n: string): string => n.replace(/[-.()]/g, "")

/** Canonical AOR of a parsed URI (e.g. the To header's URI of a REGISTER). */
export const canonical = (uri: Uri.Uri): Aor => {
  switch (uri._tag) {
    case "SipUri":
      return sipForm(uri.scheme, uri.user, uri.host, uri.port)
    case "TelUri":
      return `tel:${telNumber(uri.number)}` as Aor
    case "AbsoluteUri":
      return `${uri.scheme.toLowerCase()}:${uri.value}` as Aor
  }
}

/** Canonical AOR of a URI in text form (`sip:alice@Example.COM;transport=tcp` → `sip:alice@example.com`). */
export const fromString = (text: string): Aor | InvalidAor => {
  const uri = Uri.decode(text.trim())
  return uri._tag === "UriError" ? new InvalidAor({ input: text, reason: uri.reason }) : canonical(uri)
}
