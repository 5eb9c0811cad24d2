/**
 * Drivers for real peers in tests, on 127.0.0.1/::1 only: each child process has a kill timer
 * and dies with its Scope (or its `stop`), each wait is bounded.
 */
export * as Baresip from "./Baresip.ts"
export * as Ports from "./Ports.ts"
export * as Process from "./Process.ts"
export * as RawRequest from "./RawRequest.ts"
export * as RedisServer from "./RedisServer.ts"
export * as ServeProcess from "./ServeProcess.ts"
export * as Sipp from "./Sipp.ts"
export * as Udp from "./Udp.ts"
