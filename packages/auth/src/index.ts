/** @sipfx/auth — HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760). */
export * as Algorithm from "./Algorithm.ts"
export * as Authenticator from "./Authenticator.ts"
export * as Challenge from "./Challenge.ts"
export * as Client from "./Client.ts"
export * from "./Credentials.ts"
export * as Digest from "./Digest.ts"
export * as Nonce from "./Nonce.ts"
