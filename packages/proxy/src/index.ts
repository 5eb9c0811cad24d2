/**
 * @sipfx/proxy — a SIP proxy (RFC 3261 §16): stateful forwarding with parallel or sequential
 * forking, a replaceable routing policy, digest 407, and an outbound next-hop policy.
 */
export * as BestResponse from "./BestResponse.ts"
export * as Branch from "./Branch.ts"
export * from "./Errors.ts"
export * as NextHops from "./NextHops.ts"
export * as Numeric from "./Numeric.ts"
export * as RouteInfo from "./RouteInfo.ts"
export * as Router from "./Router.ts"
export * as Self from "./Self.ts"
export * as StatefulProxy from "./StatefulProxy.ts"
export * as StatelessProxy from "./StatelessProxy.ts"
export * as Validation from "./Validation.ts"
