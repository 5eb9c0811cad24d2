/**
 * @sipfx/presence — presence (RFC 3856) with PIDF documents (RFC 3863) and PUBLISH (RFC 3903),
 * the dialog event package (RFC 4235), a presence server role over the registrar's location data, and a MESSAGE relay (RFC 3428).
 */
export * as Compositor from "./Compositor.ts"
export * as DialogInfo from "./DialogInfo.ts"
export * as DialogPackage from "./DialogPackage.ts"
export * as MessageRelay from "./MessageRelay.ts"
export * as Pidf from "./Pidf.ts"
export * as PresencePackage from "./PresencePackage.ts"
export * as PresenceServer from "./PresenceServer.ts"
