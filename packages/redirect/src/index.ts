/** @sipfx/redirect — a SIP redirect server (RFC 3261 §8.3, §21.3) over the location service. */
export * as Redirect from "./Redirect.ts"
