import DNS from "dns2";

const { Packet } = DNS;

// The typings ask answers for toBuffer, which the encoder never calls: plain records are what it takes.
const answer = (r: Omit<DNS.Packet.Resource, "toBuffer">) => r as DNS.Packet.Resource;

/**
 * A real DNS server (dns2, UDP on loopback) answering from the zone a test writes: TXT and A
 * records by name. Point KWS_DNS_SERVERS at `server`; a name it does not know is NXDOMAIN.
 */
export class TestDns {
  /** TXT values by lower-case name (each value one record). */
  readonly txt = new Map<string, string[]>();
  /** IPv4 addresses by lower-case name. */
  readonly a = new Map<string, string>();
  private constructor(
    private readonly dns: DNS.DnsServer,
    /** `ip:port`, as KWS_DNS_SERVERS takes it. */
    readonly server: string,
  ) {}

  static async start(): Promise<TestDns> {
    let zone: TestDns | undefined;
    const dns = DNS.createServer({
      udp: true,
      handle: (request, send) => {
        const response = Packet.createResponseFromRequest(request);
        const [question] = request.questions;
        const name = question?.name.toLowerCase() ?? "";
        const txt = zone!.txt.get(name);
        const a = zone!.a.get(name);
        if (!txt && !a) response.header.rcode = Packet.RCODE.NXDOMAIN;
        else if (question!.type === Packet.TYPE.TXT) for (const data of txt ?? []) response.answers.push(answer({ name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data }));
        else if (question!.type === Packet.TYPE.A && a) response.answers.push(answer({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 1, address: a }));
        void send(response);
      },
    });
    const { udp } = await dns.listen({ udp: { port: 0, address: "127.0.0.1" } });
    zone = new TestDns(dns, `127.0.0.1:${udp!.port}`);
    return zone;
  }

  close(): Promise<void> {
    return this.dns.close();
  }
}
