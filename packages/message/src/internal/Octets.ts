/**
 * Scanners over the received octets. The parser reads the message both as bytes and as a
 * latin1 string (one char per octet, so offsets agree): structure is found on the bytes,
 * where an indexed read is cheaper than `charCodeAt`, and values are sliced from the string.
 */
import { TOKEN } from "./Chars.ts"

/** Scans token characters (§25.1) in `u[i, end)`; returns the end index. */
export const scanToken = (u: Uint8Array, i: number, end: number): number => {
  while (i < end && TOKEN[u[i]!] === 1) i++
  return i
}

/** Skips SP / HTAB forwards from `i`. */
export const skipWs = (u: Uint8Array, i: number, end: number): number => {
  while (i < end && (u[i] === 32 || u[i] === 9)) i++
  return i
}

/** Skips SP / HTAB backwards from `b`; returns the new end (not below `a`). */
export const skipWsBack = (u: Uint8Array, a: number, b: number): number => {
  while (b > a && (u[b - 1] === 32 || u[b - 1] === 9)) b--
  return b
}

/** Case-folded comparison of `u[a, a + lower.length)` with `lower` (ASCII letters, digits and `-`). */
export const equalsFolded = (u: Uint8Array, a: number, lower: Uint8Array): boolean => {
  for (let i = 0; i < lower.length; i++) if ((u[a + i]! | 32) !== lower[i]) return false
  return true
}
