/** @sipfx/location — the location service of RFC 3261 §10 with in-memory and Redis Layers. */
export * as Aor from "./Aor.ts"
export * as Binding from "./Binding.ts"
export * from "./LocationService.ts"
export * as MemoryLocation from "./MemoryLocation.ts"
export * as RedisLocation from "./RedisLocation.ts"
export * as Registration from "./Registration.ts"
