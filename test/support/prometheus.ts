import parsePrometheusTextFormat, { type Family, type Sample } from "parse-prometheus-text-format";

/**
 * A scrape parsed by a Prometheus text-format parser, with look-ups by family and labels. The
 * parser folds every series of a histogram into one (it was written for unlabelled ones), so the
 * histograms' series are read a second time as the plain samples they are (`_bucket`, `_sum`,
 * `_count`), with their TYPE lines left out.
 */
export class Scrape {
  readonly families: Map<string, Family>;
  private readonly series: Map<string, Family>;

  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const untyped = text
      .split("\n")
      .filter((line) => !/^# TYPE \S+ histogram$/.test(line))
      .join("\n");
    // Each histogram's series interleave (bucket, sum, count, then the next label set's): one family per name.
    this.series = new Map();
    for (const f of parsePrometheusTextFormat(untyped)) {
      const seen = this.series.get(f.name);
      if (seen) seen.metrics.push(...f.metrics);
      else this.series.set(f.name, f);
    }
  }

  family(name: string): Family {
    const family = this.families.get(name);
    if (!family) throw new Error(`no metric family ${name} in the scrape`);
    return family;
  }

  /** The samples of `name` (a family, or one series kind of a histogram) whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    const family = this.series.get(name) ?? this.family(name);
    return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** The value of a counter or gauge's one sample with these labels (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, m) => sum + Number(m.value), 0);
  }

  /** A histogram's count, sum and buckets over its series with these labels (0 when there are none). */
  histogram(name: string, labels: Record<string, string> = {}) {
    if (this.family(name).type !== "HISTOGRAM") throw new Error(`${name} is not a histogram`);
    const buckets: Record<string, number> = {};
    for (const s of this.series.has(`${name}_bucket`) ? this.samples(`${name}_bucket`, labels) : []) {
      const le = s.labels?.le ?? "";
      buckets[le] = (buckets[le] ?? 0) + Number(s.value);
    }
    const total = (series: string) => (this.series.has(series) ? this.value(series, labels) : 0);
    return { count: total(`${name}_count`), sum: total(`${name}_sum`), buckets };
  }
}

/** GET /metrics of `url` with the bearer `token`: the response and, when 200, its parse. */
export async function scrape(url: string, token?: string): Promise<{ status: number; scrape?: Scrape }> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, ...(res.status === 200 ? { scrape: new Scrape(text) } : {}) };
}
