package render

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// filesRefRe finds .Files calls with a literal path: .Files.Get "x", .Files.Glob `x`, ...
var filesRefRe = regexp.MustCompile("\\.Files\\.(Get|GetBytes|Glob|Lines|AsConfig|AsSecrets)\\s+(\"[^\"]*\"|`[^`]*`)")

// checkFileRefs refuses templates that name a file outside their chart. Helm's .Files only
// holds the chart's own files, so such a call reads nothing (the renderer cannot leak the
// host's files either way); but a template that asks for /etc/passwd or ../../secrets is a
// mistake or a probe, and the pusher should hear about it rather than deploy an empty value.
// Paths built at render time are not seen here; they read nothing outside the chart.
func (r *renderer) checkFileRefs(dir string, ch *chart.Chart) {
	srcs := templateSources(dir, ch, chartPaths(dir, ch))
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		src := srcs[name].data
		for _, m := range filesRefRe.FindAllSubmatchIndex(src, -1) {
			fn := string(src[m[2]:m[3]])
			arg := string(src[m[4]+1 : m[5]-1])
			if !path.IsAbs(arg) && !strings.HasPrefix(path.Clean(arg), "..") {
				continue
			}
			r.ps.add(Problem{
				File: srcs[name].file, Line: lineAt(src, m[0]), Rule: RuleOutsideRepo,
				Message: fmt.Sprintf(".Files.%s %q names a file outside the chart", fn, arg),
				Hint:    "a chart reads only its own files: put the file inside the chart and name it relative to the chart's root",
			})
		}
	}
}
