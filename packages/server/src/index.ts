/** @sipfx/server — `sipfx serve`: the server roles composed over one transaction layer. */
export * as Roles from "./Roles.ts"
export * as Serve from "./Serve.ts"
