#!/usr/bin/env node
// The CLI ships as TypeScript: register tsx's loader, then run the entry.
import { register } from "tsx/esm/api";

register();
await import(new URL("../cli/main.ts", import.meta.url).href);
