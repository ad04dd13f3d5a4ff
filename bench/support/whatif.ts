/**
 * What-if experiments for bench/dispatch.ts, loaded into the control plane with `--import` when
 * BENCH_DISPATCH_WHATIF is set (comma-separated). They patch behaviour in memory, in the bench's
 * child process only; no source file changes. Default: none (the code as it is).
 *
 *   nodelay       TCP_NODELAY on the AMQP socket (amqplib's default is noDelay: false, i.e. Nagle on)
 *   declare-once  AmqpQueue.declare skips a queue this adapter already declared (submitJob declares on every submit)
 */
import net from "node:net";
import { AmqpQueue } from "../../shared/queue/amqp";

const wanted = new Set((process.env.BENCH_DISPATCH_WHATIF ?? "").split(",").map((s) => s.trim()).filter(Boolean));

if (wanted.has("nodelay")) {
  // amqplib calls sock.setNoDelay(!!socketOptions.noDelay), i.e. setNoDelay(false); everything else wants true anyway.
  const original = net.Socket.prototype.setNoDelay;
  net.Socket.prototype.setNoDelay = function setNoDelay(this: net.Socket) {
    return original.call(this, true);
  };
}

if (wanted.has("declare-once")) {
  const original = AmqpQueue.prototype.declare;
  const seen = new WeakMap<AmqpQueue, Set<string>>();
  AmqpQueue.prototype.declare = async function declare(this: AmqpQueue, queue, options) {
    let done = seen.get(this);
    if (!done) seen.set(this, (done = new Set()));
    if (done.has(queue)) return;
    await original.call(this, queue, options);
    done.add(queue);
  };
}

const unknown = [...wanted].filter((w) => w !== "nodelay" && w !== "declare-once");
if (unknown.length > 0) throw new Error(`BENCH_DISPATCH_WHATIF: unknown experiment(s) ${unknown.join(", ")}`);
