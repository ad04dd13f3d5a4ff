/**
 * Every command of `kws`. A command group is one module under cli/commands/ exporting an array of
 * `command({...})` (see registry.ts: its words, summary, options, examples, run); add its array here.
 */
import type { Command } from "../registry";
import { appCommands } from "./apps";
import { authCommands } from "./auth";
import { completionCommands } from "./completion";
import { deviceCommands } from "./devices";
import { instanceCommands } from "./instance";
import { pgCommands } from "./pg";
import { sshCommands } from "./ssh";
import { tunnelCommands } from "./tunnel";

export const commands: readonly Command[] = [...authCommands, ...instanceCommands, ...deviceCommands, ...pgCommands, ...appCommands, ...sshCommands, ...tunnelCommands, ...completionCommands];
