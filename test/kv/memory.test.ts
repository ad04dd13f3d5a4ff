import { MemoryKV } from "../../shared/kv/memory";
import { kvContract } from "./contract";

kvContract("MemoryKV", async () => new MemoryKV());
