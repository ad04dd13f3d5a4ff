/**
 * `kws`: the command line of KWS. A deployable of its own: it talks to the control plane over
 * HTTP and websockets only, and imports nothing of the server at run time.
 */
import { commands } from "./commands";
import { dispatch } from "./dispatch";

const code = await dispatch(process.argv.slice(2), commands, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
// Exit now: an idle keep-alive connection of fetch would otherwise hold the process for seconds.
process.exit(code);
