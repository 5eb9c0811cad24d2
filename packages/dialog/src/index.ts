/**
 * @sipfx/dialog — SIP dialogs (RFC 3261 §12): state, in-dialog request construction, the
 * dialog machine, and the forking rules of §13.2.2.4.
 */
export * as Dialog from "./Dialog.ts"
export * as DialogMachine from "./DialogMachine.ts"
export * as Forking from "./Forking.ts"
export * as Runner from "./Runner.ts"
export { DialogRunner } from "./Runner.ts"
export * as Table from "./Table.ts"
export { DialogTable } from "./Table.ts"
