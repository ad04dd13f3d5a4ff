import { DialError, type StreamDialer } from "./stream-dialer";

/**
 * The dialer of a build without agent streams (the transport half of issue #11 lands beside this
 * router): every container is out of reach, and the app host says the host is offline.
 */
export const noStreams: StreamDialer = {
  dial: async (target) => {
    throw new DialError("host_offline", `host ${target.hostId}: agent streams are not available in this build`);
  },
};
