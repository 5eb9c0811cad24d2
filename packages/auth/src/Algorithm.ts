/**
 * Digest algorithms: MD5 (RFC 2617), SHA-256 (RFC 7616 §3.2), SHA-512-256 (RFC 7616,
 * RFC 8760 for SIP), each with its "-sess" variant (RFC 7616 §3.4.2).
 */
import { createHash } from "node:crypto"

export type Algorithm = "MD5" | "MD5-sess" | "SHA-256" | "SHA-256-sess" | "SHA-512-256" | "SHA-512-256-sess"

export const all: ReadonlyArray<Algorithm> = [
  "SHA-512-256",
  "SHA-512-256-sess",
  "SHA-256",
  "SHA-256-sess",
  "MD5",
  "MD5-sess",
]

const hashName: Record<Algorithm, string> = {
  MD5: "md5",
  "MD5-sess": "md5",
  "SHA-256": "sha256",
  "SHA-256-sess": "sha256",
  "SHA-512-256": "sha512-256",
  "SHA-512-256-sess": "sha512-256",
}

/** Case-insensitive match of an `algorithm` parameter (RFC 7616 §3.3); absent means MD5. */
export const parse = (text: string | undefined): Algorithm | undefined => {
  if (text === undefined) return "MD5"
  const lower = text.toLowerCase()
  return all.find((a) => a.toLowerCase() === lower)
}

export const isSess = (a: Algorithm): boolean => a.endsWith("-sess")

/** Higher is stronger: the client picks the strongest challenge it supports (RFC 8760 §2.4). */
export const strength = (a: Algorithm): number =>
  (a.startsWith("SHA-512-256") ? 30 : a.startsWith("SHA-256") ? 20 : 10) + (isSess(a) ? 0 : 1)

/** H(data) as lower-case hex (RFC 7616 §3.4.1); strings are UTF-8 encoded. */
export const hash = (a: Algorithm, data: string | Uint8Array): string =>
  createHash(hashName[a]).update(data).digest("hex")

/** Hex length of H() for this algorithm, to reject a malformed `response` early. */
export const hexLength = (a: Algorithm): number => (a.startsWith("MD5") ? 32 : 64)
