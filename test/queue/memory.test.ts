import { MemoryQueue } from "../../shared/queue/memory";
import { queueContract } from "./contract";

queueContract("memory", async () => new MemoryQueue());
