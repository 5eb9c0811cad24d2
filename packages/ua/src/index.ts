/**
 * @sipfx/ua — a SIP user agent (RFC 3261 §8, §10, §12–15, RFC 3428) as an Effect service:
 * calls, incoming calls and messages as Streams, registration with refresh, digest retries.
 */
export * from "./Errors.ts"
export * as Uas from "./Uas.ts"
export * as UserAgent from "./UserAgent.ts"
