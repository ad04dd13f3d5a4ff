/**
 * The attacker of bench/login-flood.ts, in a process of its own: logins with random unknown names
 * and a wrong password, `concurrency` at a time, from one source address, until SIGTERM. Prints
 * `{"msg":"limited"}` at its first 429, then `{"msg":"flood done", statuses, requests, seconds}`.
 *
 *   node --import tsx bench/support/login-flood-client.ts BASE_URL SOURCE_ADDRESS CONCURRENCY
 */
import { HttpClient } from "./common";

const [base, source, concurrencyText] = process.argv.slice(2);
if (!base || !source) throw new Error("usage: login-flood-client.ts BASE_URL SOURCE_ADDRESS CONCURRENCY");
const concurrency = Number(concurrencyText) || 32;
const client = new HttpClient(base, concurrency, source);
const statuses: Record<string, number> = {};
let requests = 0;
let stopping = false;
process.once("SIGTERM", () => (stopping = true));

const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (!stopping) {
      const name = `ghost_${Math.random().toString(36).slice(2, 12)}`;
      const res = await client.request("POST", "/api/v1/auth/login", { username: name, password: "Wrong-Pass-1" });
      requests++;
      if (res.status === 429 && !statuses[429]) console.log(JSON.stringify({ msg: "limited", afterRequests: requests }));
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  }),
);
client.close();
console.log(JSON.stringify({ msg: "flood done", statuses, requests, seconds: (performance.now() - started) / 1000 }));
