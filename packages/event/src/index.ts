/**
 * @sipfx/event — SIP-specific event notification (RFC 6665): subscriber and notifier as
 * XState machines, their runners over the transaction layer, and the event-package interface.
 */
export * as Authorization from "./Authorization.ts"
export * from "./Errors.ts"
export * as EventPackage from "./EventPackage.ts"
export * as Notifier from "./Notifier.ts"
export * as NotifierMachine from "./NotifierMachine.ts"
export * as Outbound from "./Outbound.ts"
export * as Runner from "./Runner.ts"
export * as Subscriber from "./Subscriber.ts"
export * as SubscriberMachine from "./SubscriberMachine.ts"
export * as SubscriptionState from "./SubscriptionState.ts"
