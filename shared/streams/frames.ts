import { z } from "zod";

/**
 * The binary frames of the agent's data websocket (`/agent/v1/streams`): `[type u8][streamId u32][payload]`.
 * Streams are opened by the control plane (the dialer) and accepted or refused by the agent.
 */
export const FrameType = {
  /** payload: JSON OpenRequest */
  open: 1,
  /** payload: u32, the acceptor's receive window */
  openOk: 2,
  /** payload: JSON OpenFailure */
  openFail: 3,
  /** payload: bytes, at most the sender's remaining credit */
  data: 4,
  /** payload: u32, more credit for the other side */
  window: 5,
  /** no payload: the sender will send no more data (half-close) */
  fin: 6,
  /** payload: UTF-8 reason: the stream is aborted in both directions */
  rst: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const HEADER_BYTES = 5;
/** Largest DATA payload sent; a websocket message stays well under the servers' maxPayload. */
export const MAX_DATA_BYTES = 64 * 1024;
/** What a websocket of the stream endpoint accepts per message. */
export const MAX_FRAME_BYTES = MAX_DATA_BYTES + HEADER_BYTES + 1024;

export const OpenRequestSchema = z
  .object({
    address: z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" }),
    port: z.number().int().min(1).max(65535),
    /** The opener's receive window: the acceptor's initial credit. */
    window: z.number().int().min(1).max(0xffffffff),
  })
  .strict();
export type OpenRequest = z.infer<typeof OpenRequestSchema>;

export const OpenFailureSchema = z
  .object({
    reason: z.enum(["refused", "timeout", "forbidden"]),
    message: z.string().max(500),
  })
  .strict();
export type OpenFailure = z.infer<typeof OpenFailureSchema>;

export interface Frame {
  type: FrameType;
  id: number;
  payload: Buffer;
}

export class FrameError extends Error {
  override name = "FrameError";
}

export function encodeFrame(type: FrameType, id: number, payload?: Buffer | Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + (payload?.length ?? 0));
  frame[0] = type;
  frame.writeUInt32BE(id, 1);
  if (payload) frame.set(payload, HEADER_BYTES);
  return frame;
}

export function encodeU32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value, 0);
  return b;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** Throws FrameError on a frame no peer of this protocol sends. */
export function decodeFrame(buf: Buffer): Frame {
  if (buf.length < HEADER_BYTES) throw new FrameError(`frame of ${buf.length} bytes is shorter than its header`);
  const type = buf[0]!;
  if (type < FrameType.open || type > FrameType.rst) throw new FrameError(`unknown frame type ${type}`);
  return { type: type as FrameType, id: buf.readUInt32BE(1), payload: buf.subarray(HEADER_BYTES) };
}

export function decodeU32(payload: Buffer): number {
  if (payload.length !== 4) throw new FrameError(`expected a u32, got ${payload.length} bytes`);
  return payload.readUInt32BE(0);
}

/** JSON validated by `schema`; FrameError naming the field otherwise. */
export function decodeJson<T>(schema: z.ZodType<T>, payload: Buffer): T {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new FrameError("payload is not JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrameError(`${issue?.path.join(".") || "payload"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
