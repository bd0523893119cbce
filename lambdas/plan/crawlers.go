package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Crawlers maps each crawler's name to the raw-zone prefixes it catalogues: its S3 targets,
// relative to the raw bucket, such as "social/" (layout.SourcePrefix) or "app_logs/".
type Crawlers map[string][]string

// ParseCrawlers decodes the value of contract.EnvCrawlers and checks its shape: at least one crawler,
// each with at least one prefix that is a raw-zone folder such as "social/".
func ParseCrawlers(value string) (Crawlers, error) {
	var c Crawlers
	if err := json.Unmarshal([]byte(value), &c); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of crawler names to prefix lists, such as {\"crawler\": [\"social/\"]}: %w", contract.EnvCrawlers, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", contract.EnvCrawlers, err)
	}
	return c, nil
}

func (c Crawlers) validate() error {
	if len(c) == 0 {
		return errors.New("names no crawler; the aggregation workflow sets it from the crawlers that start it")
	}
	var errs []error
	for _, name := range c.names() {
		if strings.TrimSpace(name) == "" {
			errs = append(errs, errors.New("a crawler name is empty"))
		}
		prefixes := c[name]
		if len(prefixes) == 0 {
			errs = append(errs, fmt.Errorf("crawler %q has no prefixes; give the raw-zone folders it crawls, such as \"social/\"", name))
		}
		for _, p := range prefixes {
			if err := checkPrefix(p); err != nil {
				errs = append(errs, fmt.Errorf("crawler %q: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkPrefix accepts a folder of the raw zone: relative, ending in "/", whose first segment
// could name a source.
func checkPrefix(p string) error {
	first, _, _ := strings.Cut(p, "/")
	if !strings.HasSuffix(p, "/") || strings.Contains(p, "//") || layout.ValidateName("source", first) != nil {
		return fmt.Errorf("prefix %q is not a raw-zone folder such as %q", p, layout.SourcePrefix("social"))
	}
	return nil
}

func (c Crawlers) names() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Catalogues reports whether a crawler with these prefixes catalogues raw table t.
func Catalogues(prefixes []string, t queries.SourceTable) bool {
	folder := layout.TablePrefix(t.Source, t.Table)
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(folder, p) })
}

// Triggers says what each crawler's successful crawl makes stale.
type Triggers struct {
	// KPIs maps each crawler's name to the KPIs that read, directly, a raw table it catalogues,
	// sorted. The KPIs downstream of them (which read them) are stale too; Catalog.Waves adds
	// those.
	KPIs map[string][]string
	// Crawlers are the crawlers' prefixes, which a plan passes on (Plan.Crawled).
	Crawlers Crawlers
}

// NewTriggers matches the crawlers against the KPI catalog. Every raw table that a KPI reads must
// be catalogued by some crawler: otherwise no crawl would ever aggregate that KPI.
func NewTriggers(crawlers Crawlers, kpis *queries.Catalog) (Triggers, error) {
	if err := crawlers.validate(); err != nil {
		return Triggers{}, fmt.Errorf("%s: %w", contract.EnvCrawlers, err)
	}
	t := Triggers{KPIs: map[string][]string{}, Crawlers: crawlers}
	for name := range crawlers {
		t.KPIs[name] = []string{}
	}
	var errs []error
	for _, name := range kpis.Names() {
		k, _ := kpis.KPI(name)
		for _, src := range k.Sources {
			found := false
			for _, c := range crawlers.names() {
				if Catalogues(crawlers[c], src) {
					found = true
					if !slices.Contains(t.KPIs[c], name) {
						t.KPIs[c] = append(t.KPIs[c], name)
					}
				}
			}
			if !found {
				errs = append(errs, fmt.Errorf("%s: kpi %q reads %s (raw folder %s), which no crawler of %s catalogues (%s); "+
					"give the aggregation workflow the crawler of that folder",
					k.File, name, src, layout.TablePrefix(src.Source, src.Table), contract.EnvCrawlers, crawlers))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Triggers{}, err
	}
	return t, nil
}

// String lists the crawlers and their prefixes, sorted, for messages.
func (c Crawlers) String() string {
	var parts []string
	for _, n := range c.names() {
		parts = append(parts, fmt.Sprintf("%s: %s", n, strings.Join(c[n], ", ")))
	}
	return strings.Join(parts, "; ")
}
