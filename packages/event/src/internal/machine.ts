/**
 * What the subscriber and notifier machines share (RFC 6665 §4.1, §4.2): actions without a
 * body, performed by the runner from their name and params, and the report both end with.
 */

/** An action the runner performs outside the machine; declared for the type of its params. */
export const performed = <Params>() => ((_: unknown, _params: Params) => {}) as (_: unknown, params: Params) => void

/** The params of `terminated`: why the subscription ended (§4.1.3 reasons, or ours). */
export interface Terminated {
  readonly reason: string
}

/** Entry of the final state: report the reason kept in the context. */
export const reportTerminated = {
  type: "terminated",
  params: ({ context }: { readonly context: Terminated }): Terminated => ({ reason: context.reason }),
} as const
