import parsePrometheusTextFormat, { type Family, type Sample } from "parse-prometheus-text-format";

/** A scrape parsed by a Prometheus text-format parser, with look-ups by family and labels. */
export class Scrape {
  readonly families: Map<string, Family>;

  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  }

  family(name: string): Family {
    const family = this.families.get(name);
    if (!family) throw new Error(`no metric family ${name} in the scrape`);
    return family;
  }

  /** The samples of `name` whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.family(name).metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** The value of a counter or gauge's one sample with these labels (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, m) => sum + Number(m.value), 0);
  }

  /** A histogram's count and sum over its samples with these labels, and its buckets (summed). */
  histogram(name: string, labels: Record<string, string> = {}) {
    const samples = this.samples(name, labels);
    const buckets: Record<string, number> = {};
    for (const s of samples) for (const [le, n] of Object.entries(s.buckets ?? {})) buckets[le] = (buckets[le] ?? 0) + Number(n);
    return {
      count: samples.reduce((n, s) => n + Number(s.count), 0),
      sum: samples.reduce((n, s) => n + Number(s.sum), 0),
      buckets,
    };
  }
}

/** GET /metrics of `url` with the bearer `token`: the response and, when 200, its parse. */
export async function scrape(url: string, token?: string): Promise<{ status: number; scrape?: Scrape }> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, ...(res.status === 200 ? { scrape: new Scrape(text) } : {}) };
}
