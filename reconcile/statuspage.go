package reconcile

import (
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/outcome"
	"github.com/gitopsd/gitopsd/termtext"
)

// pageEnv is one environment as /status shows it: the facts ssh status prints (Facts),
// and what its row sums up.
type pageEnv struct {
	Status
	Facts []Fact
	// Attention says why the environment needs a look ("" when it is healthy and in sync).
	Attention string
}

type statusPage struct {
	Now  time.Time
	Envs []pageEnv
	// Counts are the environments by outcome label, in outcome order, and Attention the
	// ones that need a look.
	Counts    []outcomeCount
	Attention []pageEnv
}

type outcomeCount struct {
	Label string
	N     int
}

// WriteStatusPage writes the HTML page of /status: the same facts as ssh status, one row
// per environment, with a count by outcome and a list of those that need a look at the
// top, so that a page of a hundred environments is read from its first lines.
func WriteStatusPage(w io.Writer, sts []Status, now time.Time) error {
	page := statusPage{Now: now}
	counts := map[string]int{}
	for _, s := range sts {
		e := pageEnv{Status: s, Facts: Facts(s, now), Attention: attention(s, now)}
		page.Envs = append(page.Envs, e)
		label := s.Outcome.Label()
		if s.Outcome == "" {
			label = "none yet"
		}
		counts[label]++
		if e.Attention != "" {
			page.Attention = append(page.Attention, e)
		}
	}
	for _, o := range append(outcome.All(), "") {
		label := o.Label()
		if o == "" {
			label = "none yet"
		}
		if counts[label] > 0 {
			page.Counts = append(page.Counts, outcomeCount{label, counts[label]})
		}
	}
	return statusTemplate.Execute(w, page)
}

// attention is the first reason an environment needs a look: its last error, a wait, or
// drift found and not corrected.
func attention(s Status, now time.Time) string {
	switch {
	case s.LastError != "":
		return firstLine(s.LastError)
	case s.Waiting != "":
		return firstLine(s.Waiting)
	case len(s.Drifted) > 0:
		return DriftText(s, now)
	}
	return ""
}

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	// clean drops the control characters of pushed text; html/template escapes the rest.
	"clean":   termtext.Clean,
	"outcome": OutcomeText,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"cut": func(n int, s string) string { return termtext.Cut(s, n) },
	"id":  func(key string) string { return "env-" + strings.NewReplacer("/", "--").Replace(key) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>gitopsd status</title>
<meta name="viewport" content="width=device-width">
<style>
body{font-family:system-ui,sans-serif;font-size:14px;margin:1em 2em}
table{border-collapse:collapse;width:100%}
th{position:sticky;top:0;background:#eee}
td,th{padding:3px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}
tr:target{background:#ffd}
pre{margin:0;white-space:pre-wrap;font-size:13px}
details summary{cursor:pointer;color:#555}
.outcome-healthy,.outcome-rolled_back{color:#080}
.outcome-unhealthy,.outcome-failed{color:#b00;font-weight:bold}
.outcome-waiting{color:#a60}
.err{color:#b00}
</style></head>
<body><h1>gitopsd</h1>
<p>{{.Now.Format "2006-01-02 15:04:05 MST"}}: {{len .Envs}} environment(s){{range .Counts}}, {{.N}} {{.Label}}{{end}}</p>
{{if .Attention}}<h2>Needs a look ({{len .Attention}})</h2><ul>
{{range .Attention}}<li><a href="#{{id .Key}}">{{clean .Key}}</a>: <span class="err">{{clean .Attention | cut 200}}</span></li>
{{end}}</ul>{{end}}
<table><tr><th>environment</th><th>branch → cluster</th><th>outcome</th><th>applied</th><th>healthy</th><th>drift</th><th>details</th></tr>
{{range .Envs}}<tr id="{{id .Key}}"><td>{{clean .Key}}</td><td>{{clean .Branch}} → {{.Cluster}}</td><td class="outcome-{{.Outcome.Label}}">{{outcome .Status $.Now}}</td><td>{{short .LastApplied}}</td><td>{{short .LastHealthy}}</td>
<td>{{len .Drifted}}</td><td><details><summary>{{if .Attention}}<span class="err">{{clean .Attention | cut 120}}</span>{{else}}all facts{{end}}</summary>
{{range .Facts}}<pre><b>{{.Label}}</b>  {{clean .Text}}</pre>
{{end}}</details></td></tr>
{{else}}<tr><td colspan="7">no environments configured</td></tr>{{end}}
</table></body></html>
`))
