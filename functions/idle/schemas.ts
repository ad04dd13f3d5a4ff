import { z } from "@hono/zod-openapi";
import { awakeReasons } from "./rules";

const MAX_MINUTES = 525_600;
const RULE = `must be a whole number of minutes from 1 to ${MAX_MINUTES}, "never" or "default"`;

/** A person's idle auto-stop choice; a form sends the minutes as text. */
const idleStop = z
  .union([z.enum(["never", "default"]), z.coerce.number({ error: RULE }).int(RULE).min(1, RULE).max(MAX_MINUTES, RULE)], { error: RULE })
  .openapi({ description: 'Minutes without activity before your instance is stopped, "never" (when the operator allows it) or "default"', example: 30 });

export const IdleStopBody = z.object({ idleStop }).openapi("IdleStopChoice");

const at = z.string().nullable();

export const IdleSchema = z
  .object({
    setting: z.union([z.number().int(), z.enum(["never", "default"])]).openapi({ description: "Your choice" }),
    minutes: z.number().nullable().openapi({ description: "The idle time that applies (your choice within the operator's limit); null: never stopped" }),
    stopsAt: at.openapi({ description: "When the running instance is stopped if nothing happens until then" }),
    awakeBecause: z.array(z.enum(awakeReasons)).openapi({ description: "What happened within the idle time: why it is still running" }),
    last: z
      .object({ started: at, ide: at, ssh: at, streams: at, ingress: at })
      .openapi({ description: "The last time of each: the start, code-server's heartbeat, an SSH session, a stream through the host's agent, a request through the ingress" }),
    open: z.object({ ssh: z.number().int().nullable(), streams: z.number().int().nullable() }).openapi({ description: "SSH sessions and streams open at the agent's last report" }),
    reportedAt: at.openapi({ description: "The host agent's last report on this instance" }),
  })
  .openapi("InstanceIdle");
