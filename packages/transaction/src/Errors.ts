import { Data } from "effect"

/** A request the layer cannot run a transaction for (no top Via with a branch, no CSeq). */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly reason: string
}> {}

/** Timer B, F or H fired: the peer never answered (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1). */
export class TransactionTimeout extends Data.TaggedError("TransactionTimeout")<{
  readonly transaction: string
  readonly timer: "B" | "F" | "H"
}> {}
