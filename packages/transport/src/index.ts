export * as Config from "./Config.ts"
export * as Resolver from "./Resolver.ts"
export * from "./Transport.ts"
