import { AddressHeldElsewhereError, allocateAddress, type AllocateOptions, PoolExhaustedError } from "./core/addresses/store";
import type { Database } from "../shared/db";
import { AppError } from "./core/errors";

/** What the person is told when an address cannot be had, in the words of what asked for it. */
export interface AddressRefusals {
  /** 503 no_capacity: the host's pool is full. */
  exhausted: string;
  /** 409 conflict: the holder has an address in this pool on another host. */
  heldElsewhere: string;
}

/** The one mapping of address allocation errors to the API: an address, or the AppError that explains why not. */
export async function allocateOrRefuse(db: Database, options: AllocateOptions, refusals: AddressRefusals): Promise<string> {
  try {
    return await allocateAddress(db, options);
  } catch (err) {
    if (err instanceof PoolExhaustedError) throw new AppError("no_capacity", refusals.exhausted);
    if (err instanceof AddressHeldElsewhereError) throw new AppError("conflict", refusals.heldElsewhere);
    throw err;
  }
}
