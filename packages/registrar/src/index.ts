/** @sipfx/registrar — a SIP registrar (RFC 3261 §10.3, RFC 3327 Path) over the transaction layer. */
export * as Options from "./Options.ts"
export * as Register from "./Register.ts"
export * as Registrar from "./Registrar.ts"
export * from "./Rejection.ts"
